/* ms_plots_int.h: what the plots' files share (ms_plots_util.c). Not installed. */
#ifndef MS_PLOTS_INT_H
#define MS_PLOTS_INT_H

#include "ms_plots.h"
#include "ms_files.h"

/* snprintf for paths: through vsnprintf so that a too-long path is reported, not cut. */
int ms__pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A number, or a raw number (64-bit counts are written as raw text): NaN when neither. */
double ms__itemnum(const cJSON *v);
double ms__num(const cJSON *o, const char *k, double dflt);
/* o[k] when it is a string, else "". */
const char *ms__str(const cJSON *o, const char *k);
/* dir/file for writing under a temporary name (ms_out_open); out_commit renames it into place.
 * 0, or -1 with err. */
int ms__out_open(ms_out_file_t *of, const char *dir, const char *file, char *err, size_t errlen);
int ms__out_commit(ms_out_file_t *of, char *err, size_t errlen);

#endif /* MS_PLOTS_INT_H */

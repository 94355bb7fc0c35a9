/* res_record.c: the system calls of one resource record (tracker/resources.c: clock_gettime of
 * the thread CPU clock, getrusage(RUSAGE_THREAD), open + read + close of /proc/thread-self/io),
 * 20,000 times, five repetitions; CPU time per record (issue 12, fifth pass). Run 20:50 UTC:
 * 9.9, 9.9, 8.7, 9.9, 10.5 us. Build: gcc -O2 -o res_record res_record.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
static double cpu_s(void){struct rusage r;getrusage(RUSAGE_SELF,&r);return r.ru_utime.tv_sec+r.ru_utime.tv_usec/1e6+r.ru_stime.tv_sec+r.ru_stime.tv_usec/1e6;}
int main(void){
  char buf[4096]; int N=20000; double best=1e9;
  for(int rep=0;rep<5;rep++){
    double c0=cpu_s();
    for(int i=0;i<N;i++){
      struct timespec ts; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&ts);
      struct rusage ru; getrusage(RUSAGE_THREAD,&ru);
      int fd=open("/proc/thread-self/io",O_RDONLY|O_CLOEXEC); if(fd>=0){ if(read(fd,buf,sizeof buf-1)<0) return 1; close(fd);}
    }
    double t=(cpu_s()-c0)/N; if(t<best)best=t;
    printf("one resource record's calls: %.1f us\n", t*1e6);
  }
  printf("best %.1f us\n",best*1e6);
}

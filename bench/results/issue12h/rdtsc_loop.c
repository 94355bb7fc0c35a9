/* rdtsc_loop.c: CPU ns a read of rdtsc and rdtscp in a loop (issue 12, eighth pass):
 * gcc -O2 rdtsc_loop.c -o rl && ./rl */
#include <stdio.h>
#include <stdint.h>
#include <time.h>
#include <x86intrin.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec*1e9+t.tv_nsec;}
int main(void){
  const int N=20000000; volatile uint64_t sink; unsigned aux;
  for(int rep=0;rep<2;rep++){
  double a=now(); for(int i=0;i<N;i++) sink=__rdtsc(); double b=now();
  for(int i=0;i<N;i++) sink=__rdtscp(&aux); double c=now();
  uint64_t x=0; for(int i=0;i<N;i++){ x+= (uint64_t)i*2654435761u; sink=x;} double d=now();
  printf("rdtsc %.2f ns, rdtscp %.2f ns, loop %.2f ns\n",(b-a)/N,(c-b)/N,(d-c)/N);}
}

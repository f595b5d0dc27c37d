/* The first layer's in-place update, W = beta W + alpha X^T D (the L2 decay folded into beta, X the minibatch,
 * D the backpropagated error, 20 rows each), hand-written against OpenBLAS's sgemm as PyTensor's Gemm{inplace}
 * calls it, alternating, 2000 updates a round: a measurement for docs/speed.md (fused kernels), not used by the
 * project. Build and run (the project's OpenBLAS, one thread; the argument is the layer's width):
 *
 *   LIB=.venv/lib/python3.11/site-packages/scipy_openblas32/lib
 *   gcc -O3 -march=native -ffp-contract=fast bench/rank_update.c -L$LIB -l:libscipy_openblas.so -Wl,-rpath,$LIB \
 *       -o /tmp/rank_update && OPENBLAS_NUM_THREADS=1 /tmp/rank_update 500 && OPENBLAS_NUM_THREADS=1 /tmp/rank_update 100
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
void scipy_sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
                  const float*, const int*, const float*, float*, const int*);
static double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec*1e-9;}
/* W[n_in x n_out] (row-major) = beta*W + alpha * X^T D, X [b x n_in], D [b x n_out] */
typedef float v8 __attribute__((vector_size(32), aligned(4)));
static void rank_update(int n_in, int n_out, int b, float alpha, const float* X, const float* D, float beta, float* W){
  int jv = n_out / 32 * 32;
  for (int i = 0; i < n_in; ++i) {
    float a[64];
    for (int k = 0; k < b; ++k) a[k] = alpha * X[k * n_in + i];
    float* row = W + (size_t)i * n_out;
    for (int j = 0; j < jv; j += 32) {
      v8 r0 = *(v8*)(row + j) * beta, r1 = *(v8*)(row + j + 8) * beta, r2 = *(v8*)(row + j + 16) * beta, r3 = *(v8*)(row + j + 24) * beta;
      for (int k = 0; k < b; ++k) { const float* d = D + k * n_out + j; float ak = a[k];
        r0 += ak * *(const v8*)d; r1 += ak * *(const v8*)(d + 8); r2 += ak * *(const v8*)(d + 16); r3 += ak * *(const v8*)(d + 24); }
      *(v8*)(row + j) = r0; *(v8*)(row + j + 8) = r1; *(v8*)(row + j + 16) = r2; *(v8*)(row + j + 24) = r3;
    }
    for (int j = jv; j < n_out; ++j) { float acc = beta * row[j]; for (int k = 0; k < b; ++k) acc += a[k] * D[k * n_out + j]; row[j] = acc; }
  }
}
int main(int argc, char** argv){
  int n_in = 784, n_out = atoi(argv[1]), b = 20, reps = 2000;
  float *W = malloc(4*n_in*n_out), *W2 = malloc(4*n_in*n_out), *X = malloc(4*50000*n_in), *D = malloc(4*b*n_out);
  for (size_t i=0;i<(size_t)n_in*n_out;i++) W[i]=W2[i]=(rand()%1000)*1e-3f;
  for (size_t i=0;i<(size_t)50000*n_in;i++) X[i]=(rand()%1000)*1e-3f;
  for (int i=0;i<b*n_out;i++) D[i]=(rand()%1000)*1e-6f;
  float alpha=-0.01f, beta=0.999998f;
  for (int round=0; round<3; ++round){
    double t=now();
    for (int r=0;r<reps;r++){ const float* Xr = X + (size_t)(r%2500)*b*n_in;
      /* column-major: W^T (n_out x n_in) = beta W^T + alpha D^T X, the call PyTensor makes for a row-major W */
      scipy_sgemm_("N","T",&n_out,&n_in,&b,&alpha,D,&n_out,Xr,&n_in,&beta,W2,&n_out); }
    double tb=(now()-t)/reps*1e6; t=now();
    for (int r=0;r<reps;r++){ const float* Xr = X + (size_t)(r%2500)*b*n_in; rank_update(n_in,n_out,b,alpha,Xr,D,beta,W); }
    double tr=(now()-t)/reps*1e6;
    printf("n_out %d: openblas sgemm %.1f us, rank-%d loop %.1f us\n", n_out, tb, b, tr);
  }
  double md=0; for (size_t i=0;i<(size_t)n_in*n_out;i++){ double d=W[i]-W2[i]; if(d<0)d=-d; if(d>md)md=d;} printf("max diff %g\n", md);
}

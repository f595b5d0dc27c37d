/* The step's matrix products in OpenBLAS (the pinned scipy-openblas32, as PyTensor's Dot22/Gemm call it) and in
 * oneDNN (dnnl_sgemm of the onednn-cpu-gomp wheel), each shape timed in rounds that alternate the two libraries,
 * best of 5 rounds: the measurement behind transfer_learning/onednn.py's choice of library per shape. One thread
 * each. Build and run from the repository root:
 *
 *   LIB=.venv/lib/python3.11/site-packages/scipy_openblas32/lib
 *   gcc -O2 bench/gemm_libraries.c -L$LIB -l:libscipy_openblas.so -Wl,-rpath,$PWD/$LIB \
 *       .venv/lib/libdnnl.so.3 -Wl,-rpath,$PWD/.venv/lib -o /tmp/gemm_libraries
 *   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /tmp/gemm_libraries
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
void scipy_sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
                  const float*, const int*, const float*, float*, const int*);
int dnnl_sgemm(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*, int64_t);
static double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec*1e-9;}
/* row-major C[MxN] = alpha op(A) op(B) + beta C */
static void ob(char ta, char tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc){
  float one=1.f; /* column-major: C^T = op(B)^T op(A)^T */
  scipy_sgemm_(&tb,&ta,&N,&M,&K,&one,B,&ldb,A,&lda,&beta,C,&ldc);
}
int main(int argc, char** argv){
  struct {const char* name; char ta, tb; int M, N, K; float beta;} cases[] = {
    {"fwd 20x784.784x500", 'N','N', 20,500,784, 0.f},
    {"fwd 20x784.784x100", 'N','N', 20,100,784, 0.f},
    {"fwd 20x500.500x500", 'N','N', 20,500,500, 0.f},
    {"fwd 20x100.100x100", 'N','N', 20,100,100, 0.f},
    {"fwd 20x500.500x10", 'N','N', 20,10,500, 0.f},
    {"fwd 20x784.784x10", 'N','N', 20,10,784, 0.f},
    {"upd 784x20.20x500 b1", 'T','N', 784,500,20, 1.f},
    {"upd 784x20.20x100 b1", 'T','N', 784,100,20, 1.f},
    {"upd 500x20.20x500 b1", 'T','N', 500,500,20, 1.f},
    {"bwd 20x500.500x500T", 'N','T', 20,500,500, 0.f},
    {"bwd 20x10.10x500T", 'N','T', 20,500,10, 0.f},
  };
  float *A = malloc(4*1000*1000), *B = malloc(4*1000*1000), *C = malloc(4*1000*1000);
  for (int i=0;i<1000*1000;i++){A[i]=(rand()%1000)*1e-3f; B[i]=(rand()%1000)*1e-3f; C[i]=0;}
  for (unsigned c=0;c<sizeof cases/sizeof cases[0];c++){
    int M=cases[c].M,N=cases[c].N,K=cases[c].K; char ta=cases[c].ta,tb=cases[c].tb;
    int lda = ta=='N'?K:M, ldb = tb=='N'?N:K, ldc=N;
    int reps = (int)(2e8/((double)M*N*K)); if (reps<50) reps=50; if (reps>200000) reps=200000;
    double best_o=1e9,best_d=1e9;
    for (int round=0; round<5; ++round){
      double t=now(); for(int r=0;r<reps;r++) ob(ta,tb,M,N,K,A,lda,B,ldb,cases[c].beta,C,ldc); double to=(now()-t)/reps*1e6;
      t=now(); for(int r=0;r<reps;r++) dnnl_sgemm(ta,tb,M,N,K,1.f,A,lda,B,ldb,cases[c].beta,C,ldc); double td=(now()-t)/reps*1e6;
      if(to<best_o)best_o=to; if(td<best_d)best_d=td;
    }
    printf("%-24s openblas %8.2f us  onednn %8.2f us  ratio %.2f\n", cases[c].name, best_o, best_d, best_o/best_d);
  }
  return 0;
}

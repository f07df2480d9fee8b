/* Quickselect (Hoare partition): medians and percentiles of ages and ratios on the hot path
 * without sorting. */
#include "select.h"

float so_kth_smallest(float *v, int n, int kth)
{
    int k = kth - 1, lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = v[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) {
                i++;
            }
            while (v[j] > pivot) {
                j--;
            }
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j) {
            hi = j;
        } else if (k >= i) {
            lo = i;
        } else {
            break;
        }
    }
    return v[k];
}

float so_kth_largest(float *v, int n, int k)
{
    return so_kth_smallest(v, n, n - k + 1);
}

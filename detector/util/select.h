/* Order statistics on float arrays (quickselect, expected linear time, reorders the input). */
#ifndef SO_UTIL_SELECT_H
#define SO_UTIL_SELECT_H

/* The k-th smallest of v[0..n-1], k from 1 to n. */
float so_kth_smallest(float *v, int n, int k);

/* The k-th largest of v[0..n-1], k from 1 to n. */
float so_kth_largest(float *v, int n, int k);

#endif

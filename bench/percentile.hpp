// Shared by the bench tools: nearest-rank percentile of a sample (reorders it).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

inline double pct(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    size_t k = size_t(std::ceil(p / 100.0 * double(v.size())));
    if (k) --k;
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return v[k];
}

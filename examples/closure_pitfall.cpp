// closure_pitfall.cpp — what a task's closure may capture, and how tasks hand results
// back.
//
// Go had a famous pitfall (fixed in Go 1.22): `for i, v := range xs { go func() {
// use(i, v) }() }` shared one i and v between all iterations. C++ has its own: a
// lambda that captures the loop variable by reference, `[&] { use(i); }`, reads i
// whenever the task runs — after the loop moved on, or after i went out of scope.
// That is a data race and undefined behaviour, so this program does not run it.
//
// The fixes shown here:
//   1. capture loop variables by value: [i, x];
//   2. give each task its own result slot (a pre-sized vector, written by index):
//      distinct elements may be written concurrently without a lock;
//   3. guard shared containers that tasks append to with a mutex.
// The group's wait() makes every task's writes visible to the caller.
#include <algorithm>
#include <iostream>
#include <mutex>
#include <numeric>
#include <vector>

#include "go/errgroup.hpp"

int main() {
  const std::vector<int> inputs = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

  // Wrong (not run): g.go([&] { slots[i] = inputs[i] * inputs[i]; });
  //   - i is read when the task runs, not when it was started.

  go::errgroup::Group g;
  std::vector<int> slots(inputs.size());  // one slot per task: no lock needed
  std::mutex mu;
  std::vector<int> appended;              // shared: every push_back under mu
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const int x = inputs[i];
    g.go([i, x, &slots, &mu, &appended] {  // i and x by value; containers by reference
      slots[i] = x * x;
      std::lock_guard<std::mutex> lock(mu);
      appended.push_back(x * x);
    });
  }
  if (go::error err = g.wait()) {
    std::cerr << "error: " << err << std::endl;
    return 1;
  }

  std::cout << "squares by slot:";
  for (int s : slots) std::cout << ' ' << s;
  std::cout << std::endl;

  // Appends arrive in completion order, which varies from run to run: sort them.
  std::sort(appended.begin(), appended.end());
  std::cout << "appended (sorted):";
  for (int s : appended) std::cout << ' ' << s;
  std::cout << std::endl;

  std::cout << "sum: " << std::accumulate(slots.begin(), slots.end(), 0) << std::endl;
  std::cout << "slots and appends agree: " << (slots == appended ? "yes" : "no") << std::endl;
}

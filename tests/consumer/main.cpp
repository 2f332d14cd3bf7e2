// Uses gocxx through its installed headers: spawn tasks, park on a WaitGroup.
#include <go/runtime.hpp>
#include <go/sync.hpp>

#include <atomic>
#include <cstdio>

int main() {
  std::atomic<int> sum{0};
  go::sync::WaitGroup wg;
  for (int i = 1; i <= 100; ++i) {
    wg.go([&sum, i] { sum += i; });
  }
  wg.wait();
  std::printf("consumer: sum=%d\n", sum.load());
  return sum.load() == 5050 ? 0 : 1;
}

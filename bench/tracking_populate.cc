// bench/tracking_populate.cc: fills a keel project's run store with N
// finished runs for bench/tracking.sh (the `keel runs list --where` case).
//
//   keel_bench_tracking_populate PROJECT [RUNS] [SEED]
//
// opens sqlite://PROJECT/.keel/keel.db (run `keel init` in PROJECT first)
// through OpenRunStore and records RUNS runs (default 10000) the way a
// sweep's `keel run`s would, each through the RunStore API (CreateRun,
// LogParams, LogMetrics, SetTags, RecordStage, EndRun):
//   - experiment "sweep", status finished, start times 1 minute apart
//     from 2026-01-01, durations of 20..300 s, a git commit (one per 50
//     runs), host, pid and command line, and the environment keel records;
//   - 10 params: train.max_depth in {3..8}, train.lr, train.n_estimators,
//     train.subsample, train.colsample_bytree, train.min_child_weight,
//     train.objective, prepare.split, prepare.seed, featurize.max_features;
//   - 5 metrics: auc uniformly random in [0, 1), accuracy, f1 and
//     precision at step 0, and a 10-step loss series (latest at step 9);
//   - 3 tags: owner, purpose, dataset; and one stage record ("train").
// All values come from a splitmix64 generator seeded with SEED (default
// 42), so a seed gives the same runs on every machine. Prints one line:
// "RUNS runs, first id A, last id B".
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "store/run_store.h"
#include "tracking/environment.h"

namespace {

// splitmix64: small, fast and the same everywhere (unlike <random>'s
// distributions, whose results depend on the standard library).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  int64_t Between(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1)); }
  template <typename T, size_t N>
  const T& Pick(const T (&choices)[N]) { return choices[Next() % N]; }

 private:
  uint64_t state_;
};

std::string Text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string Hex(Rng& rng, int digits) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  while (static_cast<int>(out.size()) < digits) {
    uint64_t x = rng.Next();
    for (int i = 0; i < 16 && static_cast<int>(out.size()) < digits; ++i, x >>= 4) out += kDigits[x & 15];
  }
  return out;
}

int Fail(const keel::Status& status, const char* what) {
  std::fprintf(stderr, "keel_bench_tracking_populate: %s: %s\n", what, status.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: keel_bench_tracking_populate PROJECT [RUNS] [SEED]\n");
    return 2;
  }
  std::string project = argv[1];
  long long runs = argc > 2 ? std::atoll(argv[2]) : 10000;
  uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 42;
  if (runs <= 0) {
    std::fprintf(stderr, "keel_bench_tracking_populate: RUNS must be a positive integer\n");
    return 2;
  }
  auto opened = keel::OpenRunStore("sqlite://" + project + "/.keel/keel.db");
  if (!opened.ok()) return Fail(opened.status(), "open");
  std::unique_ptr<keel::RunStore> store = std::move(*opened);

  Rng rng(seed);
  const std::map<std::string, std::string> environment = keel::CollectEnvironment("0.1.0");
  static const char* const kOwners[] = {"alice", "bob", "carol", "dave"};
  static const char* const kPurposes[] = {"sweep", "baseline", "ablation"};
  static const char* const kObjectives[] = {"binary:logistic", "binary:hinge"};
  static const char* const kLrs[] = {"0.001", "0.003", "0.01", "0.03", "0.1", "0.3"};
  const int64_t t0_ns = int64_t{1767225600} * 1000000000;  // 2026-01-01T00:00:00Z
  std::string commit;
  int64_t first = 0, last = 0;

  for (long long i = 0; i < runs; ++i) {
    if (i % 50 == 0) commit = Hex(rng, 40);
    keel::RunInfo info;
    info.experiment = "sweep";
    info.start_ns = t0_ns + i * int64_t{60} * 1000000000;
    info.git_commit = commit;
    info.git_dirty = rng.Next() % 4 == 0;
    if (info.git_dirty) info.diff_hash = Hex(rng, 64);
    info.host = "bench-host";
    info.pid = 10000 + i;
    info.command = "keel run -e sweep";
    auto created = store->CreateRun(info, environment);
    if (!created.ok()) return Fail(created.status(), "CreateRun");
    int64_t id = *created;
    if (first == 0) first = id;
    last = id;

    std::map<std::string, std::string> params = {
        {"train.max_depth", std::to_string(rng.Between(3, 8))},
        {"train.lr", rng.Pick(kLrs)},
        {"train.n_estimators", std::to_string(rng.Between(1, 20) * 50)},
        {"train.subsample", Text(0.5 + 0.5 * rng.Uniform())},
        {"train.colsample_bytree", Text(0.5 + 0.5 * rng.Uniform())},
        {"train.min_child_weight", std::to_string(rng.Between(1, 10))},
        {"train.objective", rng.Pick(kObjectives)},
        {"prepare.split", Text(0.1 + 0.05 * static_cast<double>(rng.Between(0, 4)))},
        {"prepare.seed", std::to_string(rng.Between(0, 9))},
        {"featurize.max_features", std::to_string(rng.Between(1, 8) * 100)}};
    keel::Status s = store->LogParams(id, params);
    if (!s.ok()) return Fail(s, "LogParams");

    int64_t end_ns = info.start_ns + rng.Between(20, 300) * int64_t{1000000000};
    int64_t end_ms = end_ns / 1000000;
    double auc = rng.Uniform();
    std::vector<keel::MetricPoint> points = {
        {"auc", auc, 0, end_ms},
        {"accuracy", 0.5 + 0.5 * rng.Uniform(), 0, end_ms},
        {"f1", rng.Uniform(), 0, end_ms},
        {"precision", rng.Uniform(), 0, end_ms}};
    double loss = 0.7 + 0.3 * rng.Uniform();
    for (int64_t step = 0; step < 10; ++step) {
      loss *= 0.8 + 0.15 * rng.Uniform();
      points.push_back({"loss", loss, step, end_ms - (10 - step) * 1000});
    }
    s = store->LogMetrics(id, points);
    if (!s.ok()) return Fail(s, "LogMetrics");

    s = store->SetTags(id, {{"owner", rng.Pick(kOwners)}, {"purpose", rng.Pick(kPurposes)}, {"dataset", "census-v2"}});
    if (!s.ok()) return Fail(s, "SetTags");
    keel::RunStage stage{"train", "ran", 0, "", "", 0};
    std::vector<keel::RunInput> inputs = {
        {"train", "dep", "data/train.csv", "sha256:" + Hex(rng, 64), 52428800, 1},
        {"train", "out", "model.bin", "sha256:" + Hex(rng, 64), 1048576, 1}};
    s = store->RecordStage(id, stage, inputs);
    if (!s.ok()) return Fail(s, "RecordStage");
    s = store->EndRun(id, keel::RunStatus::kFinished, end_ns);
    if (!s.ok()) return Fail(s, "EndRun");
  }
  std::printf("%lld runs, first id %" PRId64 ", last id %" PRId64 "\n", runs, first, last);
  return 0;
}

// `keel train xgboost` and `keel predict` end to end on real data sets,
// cross-checked against Debian's python3-xgboost and scikit-learn: the
// predictions of a keel-trained model equal XGBoost's own on the same rows
// to 1e-6, and metrics.json equals scikit-learn's metrics.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel_runner.h"

namespace keel::testing {
namespace {

using Strings = std::vector<std::string>;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Splits a CSV file whose rows hold no line breaks: every `every`-th data
// row goes to `second`, the others to `first`; both get the header.
void SplitRows(const std::string& path, int every, const std::string& first, const std::string& second) {
  std::ifstream in(path);
  std::ofstream a(first), b(second);
  std::string line;
  std::getline(in, line);
  a << line << "\n";
  b << line << "\n";
  for (int n = 1; std::getline(in, line); ++n) (n % every == 0 ? b : a) << line << "\n";
}

RunResult CrossCheck(const std::string& model_dir, const std::string& input, const std::string& predictions,
                     const std::string& metrics = "") {
  Strings argv = {"/usr/bin/python3", SourcePath("tests/integration/xgboost_crosscheck.py"), model_dir,
                  input, predictions};
  if (!metrics.empty()) argv.push_back(metrics);
  return RunProgram(".", argv);
}

class TrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SplitRows(SourcePath("examples/census-income/data/adult.csv"), 5, dir_ / "train.csv", dir_ / "valid.csv");
  }

  RunResult Keel(const Strings& args) { return RunKeel(dir_.path(), args); }

  // Trains on the census split; returns keel's JSON report.
  nlohmann::json TrainCensus(const std::string& out, const Strings& extra = {}) {
    Strings args = {"--json", "train", "xgboost", "--train", "train.csv", "--valid", "valid.csv",
                    "--target", "income", "--out", out, "--param", "num_boost_round=20",
                    "--param", "max_depth=4"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunKeelJson(dir_.path(), args);
  }

  void ExpectMatchesXGBoost(const std::string& model, const std::string& input, bool metrics) {
    RunResult p = Keel({"predict", model, "--input", input, "--out", "pred.csv"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    RunResult check = CrossCheck(dir_ / model, dir_ / input, dir_ / "pred.csv",
                                 metrics ? dir_ / (model + "/metrics.json") : "");
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  }

  TempDir dir_;
};

TEST_F(TrainTest, CensusNativeCategoriesMatchXGBoostAndScikitLearn) {
  nlohmann::json report = TrainCensus("model");
  EXPECT_EQ(report["rounds"], 20);
  EXPECT_EQ(report["features"], 14);
  EXPECT_EQ(report["train_rows"].get<int>() + report["valid_rows"].get<int>(), 48842);
  EXPECT_GT(report["metrics"]["auc"].get<double>(), 0.85);
  for (const char* file : {"model.json", "signature.json", "metrics.json", "profile.json"}) {
    EXPECT_TRUE(PathExists(dir_ / ("model/" + std::string(file)))) << file;
  }
  nlohmann::json signature = nlohmann::json::parse(ReadFile(dir_ / "model/signature.json"));
  EXPECT_EQ(signature["classes"], nlohmann::json({"<=50K", ">50K"}));
  EXPECT_EQ(signature["categorical_encoding"], "native");
  EXPECT_EQ(signature["inputs"][1]["name"], "workclass");
  EXPECT_EQ(signature["inputs"][1]["type"], "categorical");
  EXPECT_EQ(signature["inputs"][0]["type"], "numeric");
  ExpectMatchesXGBoost("model", "valid.csv", /*metrics=*/true);
}

TEST_F(TrainTest, PredictScoresAgainstTheTargetLikeTraining) {
  TrainCensus("model");
  nlohmann::json p = RunKeelJson(dir_.path(), {"--json", "predict", "model", "--input", "valid.csv", "--out",
                                               "pred.csv", "--metrics", "holdout.json"});
  // Scoring the validation rows again gives exactly training's metrics.json.
  EXPECT_EQ(ReadFile(dir_ / "holdout.json"), ReadFile(dir_ / "model/metrics.json"));
  EXPECT_EQ(p["metrics"], nlohmann::json::parse(ReadFile(dir_ / "model/metrics.json")));
  ASSERT_EQ(RunProgram(dir_.path(), {"sh", "-c", "cut -d, -f1-14 valid.csv > nolabel.csv"}).exit_code, 0);
  RunResult r = Keel({"predict", "model", "--input", "nolabel.csv", "--out", "p2.csv", "--metrics", "m.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "nolabel.csv:1: no column 'income'")) << r.err;
  EXPECT_EQ(Keel({"predict", "model", "--input", "nolabel.csv", "--out", "p2.csv"}).exit_code, 0);
}

TEST_F(TrainTest, PredictTakesARegisteredModelId) {
  ASSERT_EQ(RunProgram(dir_.path(), {"git", "init", "-q"}).exit_code, 0);
  ASSERT_EQ(Keel({"init"}).exit_code, 0);
  TrainCensus("model");
  ASSERT_EQ(Keel({"model", "register", "census", "--from", "model"}).exit_code, 0);
  ASSERT_EQ(Keel({"model", "alias", "set", "census@1", "production"}).exit_code, 0);
  ASSERT_EQ(Keel({"predict", "model", "--input", "valid.csv", "--out", "by-folder.csv"}).exit_code, 0);
  for (const std::string id : {"census@1", "census@production", "census@latest"}) {
    RunResult r = Keel({"predict", id, "--input", "valid.csv", "--out", "by-id.csv"});
    ASSERT_EQ(r.exit_code, 0) << id << ": " << r.err;
    EXPECT_EQ(ReadFile(dir_ / "by-id.csv"), ReadFile(dir_ / "by-folder.csv")) << id;
  }
  RunResult r = Keel({"predict", "census@9", "--input", "valid.csv", "--out", "o.csv"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(Contains(r.err, "model 'census' has no version 9")) << r.err;
  r = Keel({"predict", "censu@1", "--input", "valid.csv", "--out", "o.csv"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(Contains(r.err, "did you mean 'census'")) << r.err;
}

TEST_F(TrainTest, CensusOneHotMatchesXGBoost) {
  nlohmann::json report = TrainCensus("onehot", {"--categorical", "onehot"});
  EXPECT_GT(report["features"].get<int>(), 100);  // one feature per category
  nlohmann::json signature = nlohmann::json::parse(ReadFile(dir_ / "onehot/signature.json"));
  EXPECT_EQ(signature["categorical_encoding"], "onehot");
  ExpectMatchesXGBoost("onehot", "valid.csv", /*metrics=*/true);
}

TEST_F(TrainTest, PenguinsMulticlassWithMissingValuesMatchesXGBoost) {
  WriteFile(dir_ / "penguins.csv", ReadFile(SourcePath("tests/data/penguins.csv")));
  nlohmann::json report = RunKeelJson(dir_.path(), {"--json", "train", "xgboost", "--train", "penguins.csv",
                                                    "--target", "species", "--task", "multiclass",
                                                    "--valid-fraction", "0.25", "--seed", "3", "--out", "m",
                                                    "--param", "num_boost_round=15"});
  EXPECT_EQ(report["valid_rows"], 86);
  EXPECT_EQ(report["train_rows"], 258);
  EXPECT_GT(report["metrics"]["accuracy"].get<double>(), 0.9);
  EXPECT_TRUE(report["metrics"].contains("macro_f1"));
  nlohmann::json signature = nlohmann::json::parse(ReadFile(dir_ / "m/signature.json"));
  EXPECT_EQ(signature["classes"], nlohmann::json({"Adelie", "Chinstrap", "Gentoo"}));
  ExpectMatchesXGBoost("m", "penguins.csv", /*metrics=*/false);
  std::string pred = ReadFile(dir_ / "pred.csv");
  EXPECT_EQ(pred.substr(0, pred.find('\n')),
            "probability_Adelie,probability_Chinstrap,probability_Gentoo,prediction");
}

TEST_F(TrainTest, DiabetesRegressionMatchesXGBoostAndScikitLearn) {
  SplitRows(SourcePath("tests/data/diabetes.csv"), 4, dir_ / "dtrain.csv", dir_ / "dvalid.csv");
  nlohmann::json report = RunKeelJson(dir_.path(), {"--json", "train", "xgboost", "--train", "dtrain.csv",
                                                    "--valid", "dvalid.csv", "--target", "target", "--task",
                                                    "regression", "--categorical-column", "sex", "--out", "r",
                                                    "--param", "num_boost_round=30", "--param", "eta=0.1"});
  EXPECT_GT(report["metrics"]["r2"].get<double>(), 0.2);
  nlohmann::json signature = nlohmann::json::parse(ReadFile(dir_ / "r/signature.json"));
  EXPECT_EQ(signature["inputs"][1]["name"], "sex");
  EXPECT_EQ(signature["inputs"][1]["type"], "categorical");
  ExpectMatchesXGBoost("r", "dvalid.csv", /*metrics=*/true);
}

TEST_F(TrainTest, FixedSeedIsByteIdenticalAndParamsComeFromParamsYaml) {
  WriteFile(dir_ / "params.yaml", "train:\n  max_depth: 3\n  num_boost_round: 7\n  subsample: 0.8\n");
  Strings args = {"--json", "train", "xgboost", "--train", "train.csv", "--target", "income",
                  "--params", "train", "--seed", "11", "--out"};
  auto train = [&](const std::string& out, const std::string& seed) {
    Strings a = args;
    a.push_back(out);
    a[a.size() - 3] = seed;
    return RunKeelJson(dir_.path(), a);
  };
  nlohmann::json report = train("a", "11");
  train("b", "11");
  train("c", "12");
  EXPECT_EQ(report["rounds"], 7);
  EXPECT_EQ(report["params"]["max_depth"], "3");
  EXPECT_EQ(report["params"]["subsample"], "0.8");
  EXPECT_EQ(report["params"]["seed"], "11");
  for (const char* file : {"model.json", "signature.json", "metrics.json", "profile.json"}) {
    EXPECT_EQ(Sha256OfFile(dir_ / ("a/" + std::string(file))), Sha256OfFile(dir_ / ("b/" + std::string(file)))) << file;
  }
  EXPECT_NE(Sha256OfFile(dir_ / "a/model.json"), Sha256OfFile(dir_ / "c/model.json"));
  // XGBoost's JSON holds NaN literals (categorical splits), so search the text.
  EXPECT_TRUE(Contains(ReadFile(dir_ / "a/model.json"), "\"num_trees\":\"7\""));
}

TEST_F(TrainTest, AsAStageItLogsEachRoundAsASeries) {
  ASSERT_EQ(RunProgram(dir_.path(), {"git", "init", "-q"}).exit_code, 0);
  ASSERT_EQ(Keel({"init"}).exit_code, 0);
  WriteFile(dir_ / "params.yaml", "train:\n  num_boost_round: 12\n  max_depth: 3\n");
  WriteFile(dir_ / "keel.yaml", std::string("stages:\n  train:\n    cmd: ") + KEEL_BINARY +
                                    " train xgboost --train train.csv --valid valid.csv --target income"
                                    " --params train --out model --metrics metrics.json\n"
                                    "    deps: [train.csv, valid.csv]\n    params: [train]\n"
                                    "    outs: [model]\n    metrics: [{metrics.json: {cache: false}}]\n");
  RunResult run = Keel({"run"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  nlohmann::json history = RunKeelJson(dir_.path(), {"--json", "metrics", "history", "1", "valid.logloss"});
  ASSERT_EQ(history["history"].size(), 12u) << history.dump();
  EXPECT_LT(history["history"][11]["value"].get<double>(), history["history"][0]["value"].get<double>());
  nlohmann::json show = RunKeelJson(dir_.path(), {"--json", "runs", "show", "1"});
  EXPECT_TRUE(show["metrics"].contains("auc")) << show["metrics"].dump();
  EXPECT_EQ(show["params"]["train.max_depth"], "3");
}

struct BadTraining {
  Strings args;
  int exit_code;
  std::string message;
};

TEST_F(TrainTest, BadInputsGiveClearErrors) {
  WriteFile(dir_ / "bad.csv", "a,b,y\n1,2,x\n3,4\n");
  WriteFile(dir_ / "three.csv", "a,y\n1,x\n2,y\n3,z\n");
  WriteFile(dir_ / "params.yaml", "train:\n  max_depth: 3\n");
  Strings base = {"train", "xgboost", "--train", "train.csv", "--out", "m"};
  std::vector<BadTraining> cases = {
      {{"--target", "incme"}, 2, "train.csv: no column 'incme' (--target) (did you mean 'income'?)"},
      {{"--target", "income", "--task", "ranking"}, 2, "unknown task 'ranking'"},
      {{"--target", "income", "--categorical", "dummy"}, 2, "unknown categorical encoding 'dummy'"},
      {{"--target", "income", "--task", "regression"}, 2, "'<=50K' is not a number"},
      {{"--target", "workclass"}, 2, "--task binary needs 2 classes, found 9"},
      {{"--target", "income", "--param", "max_depth=deep"}, 2, "max_depth expect int but value='deep'"},
      {{"--target", "income", "--param", "objective=reg:squarederror"}, 2, "does not fit --task binary"},
      {{"--target", "income", "--param", "num_boost_round=0"}, 2, "not a positive integer"},
      {{"--target", "income", "--params", "trian"}, 2, "params.yaml: no section 'trian' (did you mean 'train'?)"},
      {{"--target", "income", "--valid-fraction", "1.5"}, 2, "--valid-fraction: 1.5"},
      {{"--target", "income", "--valid", "nope.csv"}, 3, "nope.csv"},
      {{"--target", "income", "--exclude", "agee"}, 2, "no column 'agee' (--exclude)"},
  };
  for (const BadTraining& c : cases) {
    Strings args = base;
    args.insert(args.end(), c.args.begin(), c.args.end());
    RunResult r = Keel(args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.message << "\n" << r.err;
    EXPECT_TRUE(Contains(r.err, c.message)) << "expected '" << c.message << "' in: " << r.err;
  }
  RunResult r = Keel({"train", "xgboost", "--train", "bad.csv", "--target", "y", "--out", "m"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "bad.csv:3:")) << r.err;
  r = Keel({"train", "xgboost", "--train", "three.csv", "--target", "y", "--out", "m"});
  EXPECT_TRUE(Contains(r.err, "found 3 ('x', 'y', 'z')")) << r.err;
  EXPECT_FALSE(PathExists(dir_ / "m"));  // nothing written by a failed training
}

TEST_F(TrainTest, PredictAppliesTheSignatureAndReportsBadInput) {
  TrainCensus("model");
  // Columns in another order, an unseen category and a missing value score
  // like XGBoost with the same mapping; --keep copies columns over.
  std::string valid = ReadFile(dir_ / "valid.csv");
  std::istringstream lines(valid);
  std::string header, row1, row2;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row2);
  WriteFile(dir_ / "few.csv", header + "\n" + row1 + "\n" +
                                  "25,Space-agency,1000,Bachelors,13,Never-married,,Own-child,White,Female,0,0,NA,"
                                  "Mars,<=50K\n");
  ExpectMatchesXGBoost("model", "few.csv", /*metrics=*/false);
  RunResult p = Keel({"predict", "model", "--input", "few.csv", "--out", "kept.csv", "--keep", "age",
                      "--keep", "native_country"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  std::string kept = ReadFile(dir_ / "kept.csv");
  EXPECT_EQ(kept.substr(0, kept.find('\n')), "age,native_country,probability,prediction");
  EXPECT_TRUE(Contains(kept, "\n25,Mars,")) << kept;
  // An id column that is no input is copied as written, digits and zeros.
  WriteFile(dir_ / "ids.csv", "id," + header + "\n1234567891,"  + row1 + "\n007," + row2 + "\n");
  ASSERT_EQ(Keel({"predict", "model", "--input", "ids.csv", "--out", "ids-out.csv", "--keep", "id"}).exit_code, 0);
  kept = ReadFile(dir_ / "ids-out.csv");
  EXPECT_TRUE(Contains(kept, "\n1234567891,")) << kept;
  EXPECT_TRUE(Contains(kept, "\n007,")) << kept;
  WriteFile(dir_ / "empty.csv", header + "\n");
  p = Keel({"predict", "model", "--input", "empty.csv", "--out", "e.csv", "--metrics", "m.json"});
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_TRUE(Contains(p.err, "empty.csv: no rows to score")) << p.err;

  WriteFile(dir_ / "noage.csv", "workclass,income\nPrivate,<=50K\n");
  WriteFile(dir_ / "badage.csv", header + "\n" + "x" + row2.substr(row2.find(',')) + "\n");
  struct Case {
    Strings args;
    int exit_code;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"predict", "model", "--input", "noage.csv", "--out", "o.csv"}, 2, "noage.csv:1: no column 'age'"},
      {{"predict", "model", "--input", "badage.csv", "--out", "o.csv"}, 2, "badage.csv:2:1"},
      {{"predict", "model", "--input", "missing.csv", "--out", "o.csv"}, 3, "missing.csv"},
      {{"predict", "nomodel", "--input", "valid.csv", "--out", "o.csv"}, 3, "no model folder 'nomodel'"},
  };
  for (const Case& c : cases) {
    RunResult r = Keel(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.message << "\n" << r.err;
    EXPECT_TRUE(Contains(r.err, c.message)) << "expected '" << c.message << "' in: " << r.err;
  }
  EXPECT_FALSE(PathExists(dir_ / "o.csv"));
}

}  // namespace
}  // namespace keel::testing

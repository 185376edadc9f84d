#include "deploy/deploy_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "serving/test_models.h"

namespace keel::deploy {
namespace {

namespace fs = std::filesystem;

class DeploySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "keel-deploy-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    file_ = dir_ + "/deploy.yaml";
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& text) { std::ofstream(file_, std::ios::trunc) << text; }
  std::string Served(const std::string& name) {
    auto routes = deployments_.Current();
    auto it = routes->by_name.find(name);
    return it == routes->by_name.end() ? "" : it->second.primary->id();
  }

  std::string dir_, file_;
  serving::testing::ConstantSource models_{{"m@1", "m@2", "n@1"}};
  serving::Deployments deployments_{&models_};
};

TEST_F(DeploySourceTest, AppliesTheEnvironmentAndUndeploysANameItNoLongerServes) {
  DeployFileSource source(DefaultEnv(), file_, "production");
  EXPECT_TRUE(source.enabled());
  Write("environments:\n  production:\n    model: m@1\n    canary: {model: m@2, percent: 10}\n"
        "  staging:\n    model: n@1\n");
  Result<serving::Route> route = source.Apply(&deployments_);
  ASSERT_TRUE(route.ok()) << route.status().ToString();
  EXPECT_EQ(route->primary->id(), "m@1");
  EXPECT_EQ(route->canary->id(), "m@2");
  EXPECT_EQ(route->canary_percent, 10);

  Write("environments:\n  production:\n    model: n@1\n");
  ASSERT_TRUE(source.Apply(&deployments_).ok());
  EXPECT_EQ(Served("n"), "n@1");
  EXPECT_EQ(Served("m"), "");  // no longer named: undeployed
}

TEST_F(DeploySourceTest, ABadFileOrIdChangesNothing) {
  DeployFileSource source(DefaultEnv(), file_, "production");
  Write("environments:\n  production:\n    model: m@1\n");
  ASSERT_TRUE(source.Apply(&deployments_).ok());
  Write("environments:\n  production:\n    modle: m@2\n");
  Result<serving::Route> bad = source.Apply(&deployments_);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(file_ + ":3:5"), std::string::npos) << bad.status().message();
  Write("environments:\n  production:\n    model: m@7\n");
  EXPECT_EQ(source.Apply(&deployments_).status().message(), "unknown model ID 'm@7'");
  Write("environments:\n  staging:\n    model: m@2\n");
  EXPECT_NE(source.Apply(&deployments_).status().message().find("no environment 'production' (environments: staging)"),
            std::string::npos);
  fs::remove(file_);
  EXPECT_EQ(source.Apply(&deployments_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Served("m"), "m@1");
  EXPECT_FALSE(DeployFileSource(DefaultEnv(), "", "").enabled());
}

}  // namespace
}  // namespace keel::deploy

#include "deploy/deploy_file.h"

#include <gtest/gtest.h>

namespace keel::deploy {
namespace {

TEST(DeployFileTest, EnvironmentsWithCanaryAndShadow) {
  Result<DeployFile> f = ParseDeployFile(R"(
environments:
  production:
    model: census@8
    canary:
      model: census@9
      percent: 10
    shadow: census@10
  staging:
    model: census@latest
)",
                                         "deploy.yaml");
  ASSERT_TRUE(f.ok()) << f.status().message();
  Result<Environment> prod = f->Find("production", "deploy.yaml");
  ASSERT_TRUE(prod.ok());
  EXPECT_EQ(prod->model, "census@8");
  EXPECT_EQ(prod->canary, "census@9");
  EXPECT_EQ(prod->canary_percent, 10);
  EXPECT_EQ(prod->shadow, "census@10");
  Result<Environment> staging = f->Find("staging", "deploy.yaml");
  ASSERT_TRUE(staging.ok());
  EXPECT_EQ(staging->model, "census@latest");
  EXPECT_TRUE(staging->canary.empty());
  EXPECT_EQ(f->Find("prod", "deploy.yaml").status().message(),
            "deploy.yaml: no environment 'prod' (environments: production, staging)");
}

TEST(DeployFileTest, ErrorsNameTheLineAndKey) {
  auto error = [](const char* text) { return ParseDeployFile(text, "deploy.yaml").status().message(); };
  EXPECT_EQ(error("environments:\n  production:\n    modle: census@8\n"),
            "deploy.yaml:3:5: environment 'production': unknown key 'modle' (did you mean 'model'?)");
  EXPECT_EQ(error("environments:\n  production:\n    shadow: census@8\n"),
            "deploy.yaml:3:5: environment 'production': missing key 'model'");
  EXPECT_EQ(error("environments:\n  production:\n    model: census@8\n    canary: {model: census@9, percent: 120}\n"),
            "deploy.yaml:4:40: environment 'production': canary: percent '120' is not a whole number from 0 to 100");
  EXPECT_EQ(error("environments:\n  production:\n    model: [1]\n"),
            "deploy.yaml:3:12: environment 'production': model: expected a model ID (e.g. census@8)");
  EXPECT_EQ(error("envs: {}\n"), "deploy.yaml:1:1: unknown key 'envs'");
  EXPECT_NE(error("environments: [\n").find("deploy.yaml:"), std::string::npos);
}

}  // namespace
}  // namespace keel::deploy

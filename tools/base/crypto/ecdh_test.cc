#include "tools/base/crypto/ecdh.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::crypto {
namespace {

using ::fedtiny::testing::IsOk;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

void WriteTo(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string ReadFrom(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int Shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

TEST(EcdhTest, BothSidesAgree) {
  absl::StatusOr<EcPrivateKey> a = EcPrivateKey::Generate();
  absl::StatusOr<EcPrivateKey> b = EcPrivateKey::Generate();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  absl::StatusOr<SecureBytes> ab = EcdhP256(*a, b->public_key());
  absl::StatusOr<SecureBytes> ba = EcdhP256(*b, a->public_key());
  ASSERT_THAT(ab, IsOk());
  ASSERT_THAT(ba, IsOk());
  EXPECT_EQ(ab->size(), kEcdhP256SecretBytes);
  EXPECT_EQ(ab->view(), ba->view());
  absl::StatusOr<EcPrivateKey> c = EcPrivateKey::Generate();
  ASSERT_THAT(c, IsOk());
  absl::StatusOr<SecureBytes> ac = EcdhP256(*a, c->public_key());
  ASSERT_THAT(ac, IsOk());
  EXPECT_NE(ab->view(), ac->view());
}

// The library and `openssl pkeyutl -derive` compute the same secret, with a
// key pair made by the CLI and one made by the library.
TEST(EcdhInteropTest, MatchesOpensslPkeyutlDerive) {
  const std::string cli_key = TempPath("cli_ecdh.pem");
  const std::string cli_pub = TempPath("cli_ecdh_pub.pem");
  const std::string lib_key = TempPath("lib_ecdh.pem");
  const std::string lib_pub = TempPath("lib_ecdh_pub.pem");
  const std::string secret = TempPath("ecdh_secret");
  ASSERT_EQ(Shell("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                  cli_key),
            0);
  ASSERT_EQ(Shell("openssl pkey -in " + cli_key + " -pubout -out " + cli_pub), 0);
  absl::StatusOr<EcPrivateKey> mine = EcPrivateKey::Generate();
  ASSERT_THAT(mine, IsOk());
  absl::StatusOr<std::string> mine_pem = mine->ToPem();
  absl::StatusOr<std::string> mine_pub = mine->public_key().ToPem();
  ASSERT_THAT(mine_pem, IsOk());
  ASSERT_THAT(mine_pub, IsOk());
  WriteTo(lib_key, *mine_pem);
  WriteTo(lib_pub, *mine_pub);

  ASSERT_EQ(Shell("openssl pkeyutl -derive -inkey " + cli_key + " -peerkey " +
                  lib_pub + " -out " + secret),
            0);
  const std::string from_cli = ReadFrom(secret);
  ASSERT_EQ(from_cli.size(), kEcdhP256SecretBytes);

  absl::StatusOr<EcPublicKey> theirs = EcPublicKey::FromPem(ReadFrom(cli_pub));
  ASSERT_THAT(theirs, IsOk());
  absl::StatusOr<SecureBytes> from_lib = EcdhP256(*mine, *theirs);
  ASSERT_THAT(from_lib, IsOk());
  EXPECT_EQ(from_lib->view(), from_cli);

  // And the CLI's private key, loaded by the library.
  absl::StatusOr<EcPrivateKey> cli_private = EcPrivateKey::FromPem(ReadFrom(cli_key));
  ASSERT_THAT(cli_private, IsOk());
  absl::StatusOr<SecureBytes> other_way = EcdhP256(*cli_private, mine->public_key());
  ASSERT_THAT(other_way, IsOk());
  EXPECT_EQ(other_way->view(), from_cli);
}

}  // namespace
}  // namespace fedtiny::crypto

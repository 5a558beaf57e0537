#include "tools/base/crypto/ec_key.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::crypto {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

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

// Runs a shell command (the openssl CLI); returns its exit status.
int Shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

TEST(EcKeyTest, SignVerifyRoundTrip) {
  absl::StatusOr<EcPrivateKey> key = EcPrivateKey::Generate();
  ASSERT_THAT(key, IsOk());
  absl::StatusOr<std::string> sig = key->Sign("model bundle");
  ASSERT_THAT(sig, IsOk());
  EXPECT_THAT(key->public_key().Verify("model bundle", *sig), IsOk());
  EXPECT_THAT(key->public_key().Verify("model bundlf", *sig),
              StatusIs(absl::StatusCode::kUnauthenticated));
  std::string flipped = *sig;
  flipped[flipped.size() - 1] ^= 1;
  EXPECT_THAT(key->public_key().Verify("model bundle", flipped),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(key->public_key().Verify("model bundle", ""),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(key->public_key().Verify("model bundle", *sig + "x"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(EcKeyTest, OtherKeyDoesNotVerify) {
  absl::StatusOr<EcPrivateKey> a = EcPrivateKey::Generate();
  absl::StatusOr<EcPrivateKey> b = EcPrivateKey::Generate();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(a->public_key().key_id(), b->public_key().key_id());
  absl::StatusOr<std::string> sig = a->Sign("x");
  ASSERT_THAT(sig, IsOk());
  EXPECT_THAT(b->public_key().Verify("x", *sig),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(EcKeyTest, PemAndDerRoundTrips) {
  absl::StatusOr<EcPrivateKey> key = EcPrivateKey::Generate();
  ASSERT_THAT(key, IsOk());
  absl::StatusOr<std::string> pem = key->ToPem();
  absl::StatusOr<std::string> der = key->ToDer();
  ASSERT_THAT(pem, IsOk());
  ASSERT_THAT(der, IsOk());
  EXPECT_THAT(*pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  absl::StatusOr<EcPrivateKey> from_pem = EcPrivateKey::FromPem(*pem);
  absl::StatusOr<EcPrivateKey> from_der = EcPrivateKey::FromDer(*der);
  ASSERT_THAT(from_pem, IsOk());
  ASSERT_THAT(from_der, IsOk());
  EXPECT_EQ(from_pem->public_key().key_id(), key->public_key().key_id());
  EXPECT_EQ(from_der->public_key().key_id(), key->public_key().key_id());
  absl::StatusOr<std::string> sig = from_der->Sign("d");
  ASSERT_THAT(sig, IsOk());
  EXPECT_THAT(key->public_key().Verify("d", *sig), IsOk());

  absl::StatusOr<std::string> pub_pem = key->public_key().ToPem();
  ASSERT_THAT(pub_pem, IsOk());
  absl::StatusOr<EcPublicKey> pub = EcPublicKey::FromPem(*pub_pem);
  ASSERT_THAT(pub, IsOk());
  EXPECT_EQ(pub->spki_der(), key->public_key().spki_der());
  absl::StatusOr<EcPublicKey> pub2 =
      EcPublicKey::FromSpkiDer(key->public_key().spki_der());
  ASSERT_THAT(pub2, IsOk());
  EXPECT_EQ(pub2->key_id(), KeyIdOfSpki(key->public_key().spki_der()));
  EXPECT_EQ(pub2->key_id().size(), 64u);
}

TEST(EcKeyTest, RefusesGarbageAndOtherCurves) {
  EXPECT_THAT(EcPublicKey::FromSpkiDer("not a key"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EcPublicKey::FromPem("-----BEGIN PUBLIC KEY-----\n"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EcPrivateKey::FromDer(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<EcPrivateKey> key = EcPrivateKey::Generate();
  ASSERT_THAT(key, IsOk());
  EXPECT_THAT(EcPublicKey::FromSpkiDer(key->public_key().spki_der() + "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A P-384 key, made by the openssl CLI.
  const std::string p384 = TempPath("p384.pem");
  ASSERT_EQ(Shell("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out " +
                p384),
            0);
  EXPECT_THAT(EcPrivateKey::FromPem(ReadFrom(p384)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("P-256")));
  // An Ed25519 key.
  const std::string ed = TempPath("ed25519.pem");
  ASSERT_EQ(Shell("openssl genpkey -algorithm ED25519 -out " + ed), 0);
  EXPECT_THAT(EcPrivateKey::FromPem(ReadFrom(ed)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// The openssl CLI verifies what the library signs.
TEST(EcKeyInteropTest, CliVerifiesLibrarySignature) {
  absl::StatusOr<EcPrivateKey> key = EcPrivateKey::Generate();
  ASSERT_THAT(key, IsOk());
  absl::StatusOr<std::string> pub = key->public_key().ToPem();
  absl::StatusOr<std::string> sig = key->Sign("signed by the library");
  ASSERT_THAT(pub, IsOk());
  ASSERT_THAT(sig, IsOk());
  WriteTo(TempPath("lib_pub.pem"), *pub);
  WriteTo(TempPath("lib_data"), "signed by the library");
  WriteTo(TempPath("lib_sig"), *sig);
  const std::string verify = "openssl dgst -sha256 -verify " +
                             TempPath("lib_pub.pem") + " -signature " +
                             TempPath("lib_sig") + " ";
  EXPECT_EQ(Shell(verify + TempPath("lib_data")), 0);
  WriteTo(TempPath("lib_other"), "signed by the librarx");
  EXPECT_NE(Shell(verify + TempPath("lib_other")), 0);
}

// The library verifies what the openssl CLI signs, with keys the CLI made.
TEST(EcKeyInteropTest, LibraryVerifiesCliSignature) {
  const std::string priv = TempPath("cli_key.pem");
  const std::string pub = TempPath("cli_pub.pem");
  const std::string data = TempPath("cli_data");
  const std::string sig = TempPath("cli_sig");
  WriteTo(data, "signed by the cli");
  ASSERT_EQ(Shell("openssl ecparam -name prime256v1 -genkey -noout -out " + priv), 0);
  ASSERT_EQ(Shell("openssl ec -in " + priv + " -pubout -out " + pub), 0);
  ASSERT_EQ(Shell("openssl dgst -sha256 -sign " + priv + " -out " + sig + " " + data),
            0);
  absl::StatusOr<EcPublicKey> key = EcPublicKey::FromPem(ReadFrom(pub));
  ASSERT_THAT(key, IsOk());
  EXPECT_THAT(key->Verify("signed by the cli", ReadFrom(sig)), IsOk());
  EXPECT_THAT(key->Verify("signed by the clj", ReadFrom(sig)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // The CLI's SEC1 private key loads, and its signatures verify with the CLI's
  // public key.
  absl::StatusOr<EcPrivateKey> private_key = EcPrivateKey::FromPem(ReadFrom(priv));
  ASSERT_THAT(private_key, IsOk());
  EXPECT_EQ(private_key->public_key().spki_der(), key->spki_der());
  absl::StatusOr<std::string> mine = private_key->Sign("x");
  ASSERT_THAT(mine, IsOk());
  EXPECT_THAT(key->Verify("x", *mine), IsOk());
}

// RFC 6979 appendix A.2.5: P-256, SHA-256, message "sample".
TEST(EcKeyVectorTest, Rfc6979Sample) {
  const std::string spki = absl::HexStringToBytes(
      "3059301306072a8648ce3d020106082a8648ce3d030107034200"
      "04"
      "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
      "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299");
  const std::string sig = absl::HexStringToBytes(
      "3046"
      "022100EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
      "022100F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8");
  absl::StatusOr<EcPublicKey> key = EcPublicKey::FromSpkiDer(spki);
  ASSERT_THAT(key, IsOk());
  EXPECT_THAT(key->Verify("sample", sig), IsOk());
  EXPECT_THAT(key->Verify("test", sig),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // A point off the curve is refused at parse time.
  std::string off_curve = spki;
  off_curve[off_curve.size() - 1] ^= 1;
  EXPECT_THAT(EcPublicKey::FromSpkiDer(off_curve),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::crypto

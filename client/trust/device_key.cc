#include "client/trust/device_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/base/crypto/aead.h"
#include "tools/base/crypto/envelope.h"

namespace fedtiny::client::trust {
namespace {

constexpr size_t kMaxKeyFileBytes = 16 * 1024;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat("device key: ", what, " ", path, ": ", std::strerror(errno)));
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

absl::Status CheckFile(const struct stat& st, const std::string& path) {
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("device key: ", path, " is not a regular file"));
  }
  if (st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device key: ", path, " is owned by another user (uid ", st.st_uid, ")"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "device key: %s has mode %04o: group or others can access it. Refusing "
        "to use it; if nobody else could have read it, `chmod 600 %s`, "
        "otherwise revoke the key and enroll again",
        path, st.st_mode & 07777, path));
  }
  return absl::OkStatus();
}

// Reads the whole of an open file into a SecureBytes (it holds a secret).
absl::StatusOr<crypto::SecureBytes> ReadAll(int fd, size_t size,
                                            const std::string& path) {
  if (size > kMaxKeyFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("device key: ", path, " is too large for a key"));
  }
  crypto::SecureBytes buf(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = read(fd, buf.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read", path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  buf.Shrink(done);
  return buf;
}

absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("cannot write", path);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

absl::StatusOr<crypto::EcPublicKey> CopyOf(const crypto::EcPublicKey& key) {
  return crypto::EcPublicKey::FromSpkiDer(key.spki_der());
}

// Writes `pem` to a new file `tmp` (O_EXCL, 0600 from the start), synced.
absl::Status WriteNewFile(const std::string& tmp, absl::string_view pem) {
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
             0600));
  if (fd.get() < 0) return Errno("cannot create", tmp);
  absl::Status written = WriteAll(fd.get(), pem, tmp);
  if (written.ok() && fsync(fd.get()) != 0) written = Errno("cannot sync", tmp);
  if (close(fd.Release()) != 0 && written.ok()) written = Errno("cannot close", tmp);
  return written;
}

}  // namespace

absl::StatusOr<crypto::EcPrivateKey> ReadPrivateKeyFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("device key: no file ", path));
    }
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(
          absl::StrCat("device key: ", path, " is a symbolic link"));
    }
    return Errno("cannot open", path);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Errno("cannot stat", path);
  if (absl::Status s = CheckFile(st, path); !s.ok()) return s;
  absl::StatusOr<crypto::SecureBytes> pem =
      ReadAll(fd.get(), static_cast<size_t>(st.st_size), path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::FromPem(pem->view());
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("device key: ", path, " is not a P-256 private key"));
  }
  return key;
}

absl::Status FileDeviceKeyStore::LoadLocked() {
  if (key_.has_value()) return absl::OkStatus();
  absl::StatusOr<crypto::EcPrivateKey> key = ReadPrivateKeyFile(path_);
  if (!key.ok()) return key.status();
  key_.emplace(*std::move(key));
  return absl::OkStatus();
}

absl::Status FileDeviceKeyStore::CreateLocked() {
  absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::Generate();
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> pem = key->ToPem();
  if (!pem.ok()) return pem.status();
  absl::StatusOr<std::string> suffix = crypto::RandomBytes(8);
  if (!suffix.ok()) return suffix.status();
  const std::string tmp =
      absl::StrCat(path_, ".tmp.", absl::BytesToHexString(*suffix));
  absl::Status s = WriteNewFile(tmp, *pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  // link() fails with EEXIST rather than replace: the first enrollment wins.
  const bool linked = s.ok() && link(tmp.c_str(), path_.c_str()) == 0;
  const int link_errno = errno;
  unlink(tmp.c_str());
  if (!s.ok()) return s;
  if (!linked) {
    errno = link_errno;
    if (link_errno == EEXIST) return LoadLocked();  // another process enrolled
    return Errno("cannot link the new key to", path_);
  }
  const std::string dir = DirectoryOf(path_);
  Fd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || fsync(dir_fd.get()) != 0) {
    return Errno("cannot sync directory", dir);
  }
  key_.emplace(*std::move(key));
  return absl::OkStatus();
}

absl::StatusOr<crypto::EcPublicKey> FileDeviceKeyStore::GetOrCreate() {
  absl::MutexLock lock(&mu_);
  absl::Status s = LoadLocked();
  if (absl::IsNotFound(s)) s = CreateLocked();
  if (!s.ok()) return s;
  return CopyOf(key_->public_key());
}

absl::StatusOr<crypto::SecureBytes> FileDeviceKeyStore::Unwrap(
    const v1::WrappedKey& wrapped, const v1::BundleBinding& expected_scope) {
  absl::MutexLock lock(&mu_);
  absl::Status s = LoadLocked();
  if (absl::IsNotFound(s)) {
    return absl::FailedPreconditionError(
        absl::StrCat("device key: none at ", path_, ": enroll first"));
  }
  if (!s.ok()) return s;
  return crypto::UnwrapModelKey(*key_, wrapped, expected_scope);
}

}  // namespace fedtiny::client::trust

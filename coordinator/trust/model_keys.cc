#include "coordinator/trust/model_keys.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/base/atomic_file.h"
#include "tools/base/crypto/envelope.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

// Wipes a std::string that held key material before it is freed.
void Cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace

v1::BundleBinding BindingOf(const v1::ModelBundle& meta) {
  v1::BundleBinding b;
  b.set_task(meta.task());
  b.set_cluster(std::to_string(meta.cluster()));
  b.set_model_version(meta.version());
  b.set_variant(meta.variant());
  return b;
}

absl::StatusOr<std::unique_ptr<ModelKeys>> ModelKeys::Open(const std::string& path) {
  std::unique_ptr<ModelKeys> k(new ModelKeys(path));
  if (path.empty()) return k;
  absl::StatusOr<std::string> stored = ReadFile(path);
  if (!stored.ok() && stored.status().code() == absl::StatusCode::kNotFound) return k;
  RETURN_IF_ERROR(stored.status());
  v1::ModelKeys file;
  const bool parsed = file.ParseFromString(*stored);
  Cleanse(*stored);
  if (!parsed) return absl::DataLossError(absl::StrCat(path, " does not parse"));
  absl::MutexLock lock(&k->mu_);
  for (auto& [name, key] : *file.mutable_key()) {
    if (key.size() != crypto::kModelKeyBytes) {
      return absl::DataLossError(absl::StrCat(path, ": a key of the wrong size"));
    }
    k->keys_[name] = std::make_shared<const crypto::SecureBytes>(crypto::SecureBytes::CopyOf(key));
    Cleanse(key);
  }
  return k;
}

absl::Status ModelKeys::StoreLocked() const {
  if (path_.empty()) return absl::OkStatus();
  v1::ModelKeys file;
  for (const auto& [name, key] : keys_) (*file.mutable_key())[name] = std::string(key->view());
  std::string bytes = file.SerializeAsString();
  for (auto& [name, key] : *file.mutable_key()) Cleanse(key);
  absl::Status s = WriteFileAtomically(path_, bytes, 0600);
  Cleanse(bytes);
  return s;
}

absl::StatusOr<ModelKeys::Key> ModelKeys::KeyForLocked(const std::string& name) {
  auto it = keys_.find(name);
  if (it != keys_.end()) return it->second;
  ASSIGN_OR_RETURN(crypto::SecureBytes fresh, crypto::NewModelKey());
  Key key = std::make_shared<const crypto::SecureBytes>(std::move(fresh));
  keys_[name] = key;
  if (absl::Status s = StoreLocked(); !s.ok()) {
    keys_.erase(name);
    return s;
  }
  return key;
}

absl::StatusOr<BundleMap> ModelKeys::Seal(const BundleMap& plain) {
  BundleMap out;
  absl::MutexLock lock(&mu_);
  for (const auto& [where, b] : plain) {
    if (b->encrypted()) {
      out[where] = b;
      continue;
    }
    ASSIGN_OR_RETURN(Key key, KeyForLocked(b->meta.target_name()));
    ASSIGN_OR_RETURN(v1::EncryptedBundle sealed,
                     crypto::EncryptBundle(*key, BindingOf(b->meta), b->bytes));
    auto next = std::make_shared<Bundle>(*b);
    next->sealed = sealed.SerializeAsString();
    ASSIGN_OR_RETURN(Sha256Digest d, Sha256(next->sealed));
    next->meta.set_size_bytes(static_cast<int64_t>(next->sealed.size()));
    next->meta.set_sha256(std::string(reinterpret_cast<const char*>(d.data()), d.size()));
    out[where] = std::move(next);
  }
  return out;
}

ModelKeys::Key ModelKeys::Find(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(name);
  return it == keys_.end() ? nullptr : it->second;
}

absl::Status ModelKeys::Retain(const std::string& task, const std::set<std::string>& keep) {
  absl::MutexLock lock(&mu_);
  const std::string prefix = task + "/";
  bool dropped = false;
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (absl::StartsWith(it->first, prefix) && !keep.count(it->first)) {
      it = keys_.erase(it);  // The SecureBytes wipes itself with its last reference.
      dropped = true;
    } else {
      ++it;
    }
  }
  return dropped ? StoreLocked() : absl::OkStatus();
}

size_t ModelKeys::size() const {
  absl::MutexLock lock(&mu_);
  return keys_.size();
}

}  // namespace fedtiny::coordinator

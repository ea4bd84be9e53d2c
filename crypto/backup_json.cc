#include "crypto/backup_json.h"

#include <sodium.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

namespace safe::crypto {

using Json = nlohmann::ordered_json;

struct BackupJson::Doc {
  Json json;
  SecretKey private_key;

  ~Doc() { WipeStrings(json); }

  static void WipeStrings(Json& j) {
    if (j.is_string()) {
      std::string& s = j.get_ref<std::string&>();
      Wipe(s.data(), s.size());
    } else if (j.is_structured()) {
      for (Json& child : j) WipeStrings(child);
    }
  }
};

namespace {

// Decodes standard base64 (with or without padding) of exactly 32 bytes.
bool DecodeKey(const std::string& text, SecretKey* key) {
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING}) {
    size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(key->data(), key->size(), text.data(), text.size(), nullptr, &len, &end,
                          variant) == 0 &&
        len == key->size() && end == text.data() + text.size()) {
      return true;
    }
  }
  key->Clear();
  return false;
}

Status RequireObject(const Json& parent, const char* name) {
  auto it = parent.find(name);
  if (it == parent.end()) {
    return Status::InvalidArgument(std::string("the backup has no \"") + name + "\" (required)");
  }
  if (!it->is_object()) {
    return Status::InvalidArgument(std::string("\"") + name + "\" is not a JSON object");
  }
  return Status::OK();
}

Status Validate(const Json& json, SecretKey* private_key) {
  if (!json.is_object()) return Status::InvalidArgument("the backup is not a JSON object");

  if (Status s = RequireObject(json, "info"); !s.ok()) return s;
  const Json& info = json["info"];
  auto version = info.find("version");
  if (version == info.end()) {
    return Status::InvalidArgument("\"info\" has no \"version\" (required)");
  }
  if (!version->is_number_integer()) {
    return Status::InvalidArgument("\"info.version\" is not a whole number");
  }
  if (version->get<int64_t>() != kBackupSchemaVersion) {
    return Status::InvalidArgument("the backup is of schema version " +
                                   std::to_string(version->get<int64_t>()) +
                                   "; only version 1 is supported");
  }

  if (Status s = RequireObject(json, "user"); !s.ok()) return s;
  const Json& user = json["user"];
  auto key = user.find("privatekey");
  if (key == user.end()) {
    return Status::InvalidArgument("\"user\" has no \"privatekey\" (required)");
  }
  if (!key->is_string() || !DecodeKey(key->get_ref<const std::string&>(), private_key)) {
    return Status::InvalidArgument("\"user.privatekey\" is not the base64 of 32 bytes");
  }

  if (Status s = RequireObject(json, "settings"); !s.ok()) return s;

  for (const char* name : {"contacts", "groups", "distributionlists"}) {
    auto it = json.find(name);
    if (it != json.end() && !it->is_array()) {
      return Status::InvalidArgument(std::string("\"") + name + "\" is not a JSON list");
    }
  }
  return Status::OK();
}

}  // namespace

BackupJson::BackupJson(std::unique_ptr<Doc> doc) : doc_(std::move(doc)) {}
BackupJson::BackupJson(BackupJson&&) noexcept = default;
BackupJson& BackupJson::operator=(BackupJson&&) noexcept = default;
BackupJson::~BackupJson() = default;

Result<BackupJson> BackupJson::Parse(const SecretBytes& text) {
  auto doc = std::make_unique<Doc>();
  try {
    doc->json = Json::parse(text.data(), text.data() + text.size());
  } catch (const Json::parse_error& e) {
    // e.what() quotes the text near the error: secret. Only the offset is reported.
    return Status::InvalidArgument("the backup is not JSON (syntax error at byte " +
                                   std::to_string(e.byte) + ")");
  } catch (const std::exception&) {
    return Status::InvalidArgument("the backup is not JSON");
  }
  if (Status s = Validate(doc->json, &doc->private_key); !s.ok()) return s;
  return BackupJson(std::move(doc));
}

SecretKey BackupJson::PrivateKey() const { return doc_->private_key.Clone(); }

SecretBytes BackupJson::Serialize() const {
  std::string text = doc_->json.dump(-1, ' ', false, Json::error_handler_t::replace);
  SecretBytes out = SecretBytes::FromString(text);
  Wipe(text.data(), text.size());
  return out;
}

Status ValidateBackupJson(const SecretBytes& text) {
  Result<BackupJson> parsed = BackupJson::Parse(text);
  return parsed.ok() ? Status::OK() : parsed.status();
}

}  // namespace safe::crypto

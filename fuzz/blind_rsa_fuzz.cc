// Fuzzes the RSA blind-signature code (crypto/blind_rsa.h, issue 18) where it reads untrusted
// bytes: issuer public and private key files, the blinded message the issuer signs, the blind
// signature the client unblinds, and the (token, signature) pair the server verifies.
//
// The first input byte picks what the rest feeds:
//   0  BlindRsaPublicKey::FromDer     a key read writes both SPKI formats that read back equal
//   1  BlindRsaPublicKey::FromPem     the same
//   2  BlindRsaPrivateKey::FromDer    a key read writes PKCS#8 that reads back to the same key
//   3  BlindRsaBlindSign              signs exactly the k-byte inputs below n, and never fails
//                                     its own fault check (no IOError)
//   4  BlindRsaVerify                 agrees with OpenSSL's own RSASSA-PSS verifier (SHA-384,
//                                     salt 48) on every input; byte 1 splits message and signature
//   5  the whole protocol             any message is issued and verifies; a bit flipped in the
//                                     signature (chosen by the input) makes it fail
//   6  BlindRsaFinalize               an arbitrary blind signature never finalizes and is never an
//                                     IOError
// Modes 3-6 use one 2048-bit key generated when the target starts (no key is kept in the repo);
// their invariants do not depend on which key it is.

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/blind_rsa.h"
#include "fuzz/fuzz_check.h"

using namespace safe::crypto;
using safe::SecretBytes;

namespace {

const BlindRsaPrivateKey& FixedKey() {
  static const BlindRsaPrivateKey* key = [] {
    safe::Result<BlindRsaPrivateKey> generated = BlindRsaPrivateKey::Generate(2048);
    FUZZ_CHECK(generated.ok(), "a 2048-bit key can be generated");
    return new BlindRsaPrivateKey(std::move(generated.value()));
  }();
  return *key;
}

void CheckPublicKeyRoundTrip(const safe::Result<BlindRsaPublicKey>& key) {
  if (!key.ok()) {
    FUZZ_CHECK(key.status().IsInvalidArgument(), "a bad public key is InvalidArgument");
    FUZZ_CHECK(ERR_peek_error() == 0, "OpenSSL's error queue is left empty");
    return;
  }
  FUZZ_CHECK(key->ModulusBits() >= kBlindRsaMinBits && key->ModulusBits() <= kBlindRsaMaxBits,
             "an accepted key has 2048..4096 bits");
  for (SpkiFormat format : {SpkiFormat::kRsaPss, SpkiFormat::kRsaEncryption}) {
    safe::Result<std::vector<uint8_t>> der = key->ToDer(format);
    FUZZ_CHECK(der.ok(), "an accepted key can be written");
    safe::Result<BlindRsaPublicKey> again = BlindRsaPublicKey::FromDer(der->data(), der->size());
    FUZZ_CHECK(again.ok() && again->Modulus() == key->Modulus(), "it reads back the same");
  }
}

// OpenSSL's verifier, straight on the key's EVP_PKEY.
bool OpenSslVerifies(const BlindRsaPublicKey& key, const SecretBytes& msg,
                     const std::vector<uint8_t>& sig) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  const bool ok = EVP_DigestVerifyInit(md, &pctx, EVP_sha384(), nullptr, key.pkey()) == 1 &&
                  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                  EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 &&
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 &&
                  EVP_DigestVerify(md, sig.data(), sig.size(), msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  return ok;
}

// The input resized to k bytes (zeros in front, or its first k bytes).
std::vector<uint8_t> ToModulusSize(const uint8_t* data, size_t size, size_t k) {
  std::vector<uint8_t> out(k, 0);
  if (size >= k) {
    std::memcpy(out.data(), data, k);
  } else if (size > 0) {
    std::memcpy(out.data() + (k - size), data, size);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 7;
  ++data;
  --size;
  switch (mode) {
    case 0:
      CheckPublicKeyRoundTrip(BlindRsaPublicKey::FromDer(data, size));
      break;
    case 1:
      CheckPublicKeyRoundTrip(
          BlindRsaPublicKey::FromPem(std::string_view(reinterpret_cast<const char*>(data), size)));
      break;
    case 2: {
      safe::Result<BlindRsaPrivateKey> key = BlindRsaPrivateKey::FromDer(SecretBytes(data, size));
      if (!key.ok()) {
        FUZZ_CHECK(key.status().IsInvalidArgument(), "a bad private key is InvalidArgument");
        FUZZ_CHECK(ERR_peek_error() == 0, "OpenSSL's error queue is left empty");
        break;
      }
      safe::Result<SecretBytes> der = key->ToDer();
      FUZZ_CHECK(der.ok(), "an accepted private key can be written");
      safe::Result<BlindRsaPrivateKey> again = BlindRsaPrivateKey::FromDer(*der);
      FUZZ_CHECK(again.ok() && again->PublicKey().Modulus() == key->PublicKey().Modulus(),
                 "it reads back the same");
      break;
    }
    case 3: {
      const BlindRsaPrivateKey& key = FixedKey();
      const std::vector<uint8_t>& n = key.PublicKey().Modulus();
      const std::vector<uint8_t> blinded(data, data + size);
      const bool in_range = size == n.size() && std::memcmp(data, n.data(), size) < 0;
      safe::Result<std::vector<uint8_t>> sig = BlindRsaBlindSign(key, blinded);
      FUZZ_CHECK(sig.ok() == in_range, "signs exactly the k-byte numbers below n");
      if (sig.ok()) {
        FUZZ_CHECK(sig->size() == n.size(), "a blind signature is k bytes");
      } else {
        FUZZ_CHECK(sig.status().IsInvalidArgument(), "a refused message is InvalidArgument");
      }
      break;
    }
    case 4: {
      const BlindRsaPublicKey& pub = FixedKey().PublicKey();
      const size_t split = size > 0 ? data[0] % (size + 1) : 0;
      const SecretBytes msg(data, split);
      const std::vector<uint8_t> sig =
          ToModulusSize(data + split, size - split, pub.ModulusBytes());
      const safe::Status verified = BlindRsaVerify(pub, msg, sig);
      FUZZ_CHECK(verified.ok() == OpenSslVerifies(pub, msg, sig), "agrees with OpenSSL");
      FUZZ_CHECK(verified.ok() || verified.IsInvalidArgument(), "a bad signature is bad input");
      break;
    }
    case 5: {
      const BlindRsaPrivateKey& key = FixedKey();
      const BlindRsaPublicKey& pub = key.PublicKey();
      const SecretBytes prepared = BlindRsaPrepare(SecretBytes(data, size));
      safe::Result<BlindedMessage> blinded = BlindRsaBlind(pub, prepared);
      FUZZ_CHECK(blinded.ok(), "any message can be blinded");
      safe::Result<std::vector<uint8_t>> blind_sig = BlindRsaBlindSign(key, blinded->blinded_msg);
      FUZZ_CHECK(blind_sig.ok(), "a blinded message is signed");
      safe::Result<std::vector<uint8_t>> sig =
          BlindRsaFinalize(pub, prepared, *blind_sig, blinded->inverse);
      FUZZ_CHECK(sig.ok(), "and finalizes");
      FUZZ_CHECK(OpenSslVerifies(pub, prepared, *sig), "to a signature OpenSSL accepts");
      size_t bit = 0;
      for (size_t i = 0; i < size; ++i) bit = bit * 31 + data[i];
      std::vector<uint8_t> flipped = *sig;
      flipped[(bit / 8) % flipped.size()] ^= static_cast<uint8_t>(1u << (bit % 8));
      FUZZ_CHECK(!BlindRsaVerify(pub, prepared, flipped).ok(), "a flipped bit is refused");
      break;
    }
    case 6: {
      const BlindRsaPublicKey& pub = FixedKey().PublicKey();
      static const SecretBytes* prepared =
          new SecretBytes(BlindRsaPrepare(SecretBytes::FromString("fuzz")));
      static const BlindedMessage* blinded =
          new BlindedMessage(std::move(BlindRsaBlind(pub, *prepared).value()));
      const std::vector<uint8_t> blind_sig = ToModulusSize(data, size, pub.ModulusBytes());
      safe::Result<std::vector<uint8_t>> sig =
          BlindRsaFinalize(pub, *prepared, blind_sig, blinded->inverse);
      FUZZ_CHECK(!sig.ok() && sig.status().IsInvalidArgument(),
                 "a blind signature not made by the issuer never finalizes");
      break;
    }
  }
  return 0;
}

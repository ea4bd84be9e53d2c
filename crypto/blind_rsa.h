// RSA blind signatures, RFC 9474, variant RSABSSA-SHA384-PSS-Randomized: the customer's client
// gets a token signed by the provider's issuer without the issuer seeing the token (issue 18).
//
//   client:  prepared = Prepare(msg)                      32 random bytes || msg
//            {blinded, inverse} = Blind(public_key, prepared)
//   issuer:  blind_sig = BlindSign(private_key, blinded)  sees only `blinded`
//   client:  sig = Finalize(public_key, prepared, blind_sig, inverse)
//   anyone:  Verify(public_key, prepared, sig)            an ordinary RSASSA-PSS signature
//
// PSS parameters: SHA-384, MGF1 with SHA-384, 48-byte salt. `sig` verifies with any RSASSA-PSS
// implementation given those parameters (the tests check it with OpenSSL's own verifier).
//
// Why hand-written: OpenSSL has no blind-signature API. What OpenSSL offers is used: the private-
// key operation (RSASP1) is OpenSSL's raw RSA signature (RSA_NO_PADDING), which has CRT, base
// blinding and constant-time exponentiation against timing attacks (RFC 9474 section 7.1);
// verification is OpenSSL's RSASSA-PSS verifier; keys, random integers and modular arithmetic are
// OpenSSL's EVP_PKEY and BIGNUM. Written here are only EMSA-PSS-ENCODE with a salt the caller may
// choose (RFC 8017 9.1.1, OpenSSL draws the salt itself) and the blinding arithmetic of RFC 9474
// section 4. The known-answer tests are the RFC's Appendix A vectors.
//
// Keys: RSA with e = 65537, 2048 to 4096 bits (generated: 2048, 3072 or 4096). RFC 9474 section
// 6.2: an issuer key must be used for nothing but this variant.
//
// Secrets: the private key and the blinding inverse live in self-wiping holders; the prepared
// message (the token, a bearer secret until redeemed) is SecretBytes too. The blinded message and
// the signatures are not secret.
//
// Errors: InvalidArgument for every bad input (wrong length, a number not below the modulus, a
// signature that does not verify, an unusable key), with a message that names what was wrong and
// never repeats the input; IOError if OpenSSL itself fails (out of memory, no random source).
//
// Thread-safety: keys are immutable after construction; const methods and the free functions may
// be called concurrently, also on the same key.

#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.h"
#include "common/status.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY; OpenSSL headers stay in blind_rsa.cc.

namespace safe::crypto {

inline constexpr size_t kBlindRsaPrefixBytes = 32;  // PrepareRandomize's msg_prefix
inline constexpr size_t kBlindRsaSaltBytes = 48;    // PSS salt (sLen) of the variant
inline constexpr size_t kBlindRsaHashBytes = 48;    // SHA-384
inline constexpr unsigned kBlindRsaPublicExponent = 65537;
inline constexpr int kBlindRsaMinBits = 2048;
inline constexpr int kBlindRsaMaxBits = 4096;

// How a public key is written as a SubjectPublicKeyInfo.
enum class SpkiFormat {
  // id-RSASSA-PSS with parameters SHA-384, MGF1-SHA-384, salt 48 (RFC 4055; RFC 9474 section 6.2
  // asks for this OID where the key travels in a certificate). Binds the key to this one use.
  kRsaPss,
  // rsaEncryption: the plain RSA SPKI every tool reads.
  kRsaEncryption,
};

// Frees an EVP_PKEY (defined in blind_rsa.cc).
struct EvpPkeyFree {
  void operator()(evp_pkey_st* key) const;
};

// The issuer's public key. Cheap to copy (the key is shared, never modified).
class BlindRsaPublicKey {
 public:
  // A DER SubjectPublicKeyInfo, either format above. InvalidArgument if it is not one, has bytes
  // after it, is id-RSASSA-PSS with parameters other than this variant's, or the key is not
  // 2048..4096 bits with e = 65537.
  static Result<BlindRsaPublicKey> FromDer(const uint8_t* der, size_t size);
  // A PEM "PUBLIC KEY" block holding such a DER. InvalidArgument as FromDer.
  static Result<BlindRsaPublicKey> FromPem(std::string_view pem);
  // From the big-endian modulus and public exponent. InvalidArgument as FromDer.
  static Result<BlindRsaPublicKey> FromModulusAndExponent(const std::vector<uint8_t>& n,
                                                          const std::vector<uint8_t>& e);

  // The SPKI, DER or PEM. IOError only if OpenSSL fails.
  Result<std::vector<uint8_t>> ToDer(SpkiFormat format = SpkiFormat::kRsaPss) const;
  Result<std::string> ToPem(SpkiFormat format = SpkiFormat::kRsaPss) const;

  // SHA-256 of ToDer(kRsaPss): names the key (as Privacy Pass's token_key_id does), e.g. to tell
  // which of several issuer keys signed a token. IOError only if OpenSSL fails.
  Result<std::array<uint8_t, 32>> KeyId() const;

  // Length in bytes of the modulus: of blinded messages, blind signatures, signatures, inverses.
  size_t ModulusBytes() const { return n_.size(); }
  int ModulusBits() const { return bits_; }
  // The modulus, big-endian, ModulusBytes() long.
  const std::vector<uint8_t>& Modulus() const { return n_; }

  // The OpenSSL key (an RSA key, whatever format it was read from): for blind_rsa.cc and for
  // checks against OpenSSL directly (tests, the fuzz target). Owned by this object.
  evp_pkey_st* pkey() const { return pkey_.get(); }

 private:
  BlindRsaPublicKey(std::shared_ptr<evp_pkey_st> pkey, std::vector<uint8_t> n, int bits)
      : pkey_(std::move(pkey)), n_(std::move(n)), bits_(bits) {}
  // Checks the key (size, e), keeps only its public part, as an RSA (not RSA-PSS) key.
  static Result<BlindRsaPublicKey> FromPkey(const evp_pkey_st* pkey);
  friend class BlindRsaPrivateKey;

  std::shared_ptr<evp_pkey_st> pkey_;
  std::vector<uint8_t> n_;
  int bits_ = 0;
};

// The issuer's private key. Move-only; OpenSSL holds the numbers (and frees them wiped).
class BlindRsaPrivateKey {
 public:
  // A fresh key of 2048, 3072 or 4096 bits, e = 65537 (OpenSSL's generator, FIPS 186-4 style as
  // RFC 9474 section 6.2 recommends). InvalidArgument for other sizes; IOError if OpenSSL fails.
  // Takes about 0.5 s for 2048 bits and a few seconds for 4096 (the primes are random).
  static Result<BlindRsaPrivateKey> Generate(int bits);

  // A PKCS#8 PrivateKeyInfo (DER) or its PEM "PRIVATE KEY" block (a traditional "RSA PRIVATE
  // KEY" PEM is read too). InvalidArgument if it is not an RSA private key, fails OpenSSL's key
  // check (primes, d, CRT values), or is not 2048..4096 bits with e = 65537. The check tests p
  // and q for primality: about 85 ms for 2048 bits, 0.55 s for 4096 (measured on the build
  // machine), so load a key once, not per signature.
  static Result<BlindRsaPrivateKey> FromDer(const SecretBytes& der);
  static Result<BlindRsaPrivateKey> FromPem(const SecretBytes& pem);
  // From the big-endian numbers (known-answer tests: RFC 9474 gives p, q, d). The CRT values are
  // computed. InvalidArgument as FromDer.
  static Result<BlindRsaPrivateKey> FromComponents(const std::vector<uint8_t>& n,
                                                   const std::vector<uint8_t>& e,
                                                   const SecretBytes& d, const SecretBytes& p,
                                                   const SecretBytes& q);

  // PKCS#8, unencrypted: protect the file (0600) or the store it goes to. IOError if OpenSSL
  // fails.
  Result<SecretBytes> ToDer() const;
  Result<SecretBytes> ToPem() const;

  const BlindRsaPublicKey& PublicKey() const { return public_key_; }
  evp_pkey_st* pkey() const { return pkey_.get(); }

  BlindRsaPrivateKey(BlindRsaPrivateKey&&) noexcept = default;
  BlindRsaPrivateKey& operator=(BlindRsaPrivateKey&&) noexcept = default;
  BlindRsaPrivateKey(const BlindRsaPrivateKey&) = delete;
  BlindRsaPrivateKey& operator=(const BlindRsaPrivateKey&) = delete;

 private:
  BlindRsaPrivateKey(std::unique_ptr<evp_pkey_st, EvpPkeyFree> pkey, BlindRsaPublicKey public_key)
      : pkey_(std::move(pkey)), public_key_(std::move(public_key)) {}
  static Result<BlindRsaPrivateKey> FromPkey(std::unique_ptr<evp_pkey_st, EvpPkeyFree> pkey);

  std::unique_ptr<evp_pkey_st, EvpPkeyFree> pkey_;
  BlindRsaPublicKey public_key_;
};

// PrepareRandomize (RFC 9474 section 4.1): 32 fresh random bytes || msg. The application message
// is the prepared message without its first kBlindRsaPrefixBytes bytes.
SecretBytes BlindRsaPrepare(const SecretBytes& msg);
// The same with a given prefix: for known-answer tests only.
SecretBytes BlindRsaPrepareWithPrefix(const SecretBytes& msg,
                                      const std::array<uint8_t, kBlindRsaPrefixBytes>& prefix);

struct BlindedMessage {
  std::vector<uint8_t> blinded_msg;  // ModulusBytes() long: send it to the issuer
  SecretBytes inverse;               // ModulusBytes() long, big-endian: keep it for Finalize
};

// Blind (RFC 9474 section 4.2): PSS-encodes `prepared` with a fresh salt and blinds it with a fresh
// random r. InvalidArgument if the encoded message shares a factor with n (the key is broken);
// IOError if OpenSSL fails or no invertible r turns up (which would mean n is factored).
Result<BlindedMessage> BlindRsaBlind(const BlindRsaPublicKey& key, const SecretBytes& prepared);
// The same with the salt and the inverse of r given: for known-answer tests only. InvalidArgument
// also if `inverse` is not ModulusBytes() long or not an invertible number below n.
Result<BlindedMessage> BlindRsaBlindWithSaltAndInverse(
    const BlindRsaPublicKey& key, const SecretBytes& prepared,
    const std::array<uint8_t, kBlindRsaSaltBytes>& salt, const SecretBytes& inverse);

// BlindSign (RFC 9474 section 4.3): the RSA private-key operation on a blinded message, checked by
// the public-key operation before it is returned (against fault attacks, section 7.1).
// InvalidArgument if `blinded_msg` is not ModulusBytes() long or not below n; IOError if OpenSSL
// fails or the check fails.
Result<std::vector<uint8_t>> BlindRsaBlindSign(const BlindRsaPrivateKey& key,
                                               const std::vector<uint8_t>& blinded_msg);

// Finalize (RFC 9474 section 4.4): unblinds and verifies. InvalidArgument if `blind_sig` or
// `inverse` is not ModulusBytes() long or not below n, or the result does not verify (a blind
// signature from another key, for another message, or tampered with).
Result<std::vector<uint8_t>> BlindRsaFinalize(const BlindRsaPublicKey& key,
                                              const SecretBytes& prepared,
                                              const std::vector<uint8_t>& blind_sig,
                                              const SecretBytes& inverse);

// RSASSA-PSS-VERIFY with the variant's parameters (RFC 9474 section 4.5), by OpenSSL. OK if `sig`
// is a valid signature of `prepared` under `key`; else InvalidArgument (wrong length, not below n,
// or does not verify).
[[nodiscard]] Status BlindRsaVerify(const BlindRsaPublicKey& key, const SecretBytes& prepared,
                                    const std::vector<uint8_t>& sig);

namespace internal {
// EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) with SHA-384, MGF1-SHA-384 and the given salt, for a
// modulus of mod_bits bits (emBits = mod_bits - 1). Exposed for the known-answer test of
// RFC 9474 A.3's encoded_msg. InvalidArgument if the modulus is too small for the encoding.
Result<SecretBytes> EmsaPssEncode(const SecretBytes& msg,
                                  const std::array<uint8_t, kBlindRsaSaltBytes>& salt,
                                  int mod_bits);
}  // namespace internal

}  // namespace safe::crypto

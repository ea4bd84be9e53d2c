#include "crypto/blind_rsa.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cstring>
#include <string>
#include <utility>

namespace safe::crypto {

void EvpPkeyFree::operator()(evp_pkey_st* key) const { EVP_PKEY_free(key); }

namespace {

// Largest key file read: a 4096-bit PKCS#8 PEM is about 3.3 KiB.
constexpr size_t kMaxKeyFileBytes = 64 * 1024;
// Blind draws r again when it has no inverse; that happens only if r shares a factor with n,
// i.e. never for a real key. A few tries, then give up.
constexpr int kBlindingTries = 8;

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};
struct BnCtxFree {
  void operator()(BN_CTX* ctx) const { BN_CTX_free(ctx); }
};
struct MontFree {
  void operator()(BN_MONT_CTX* mont) const { BN_MONT_CTX_free(mont); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct MdFree {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }  // wipes secure parts
};
struct EncoderCtxFree {
  void operator()(OSSL_ENCODER_CTX* ctx) const { OSSL_ENCODER_CTX_free(ctx); }
};
struct DecoderCtxFree {
  void operator()(OSSL_DECODER_CTX* ctx) const { OSSL_DECODER_CTX_free(ctx); }
};

using Bn = std::unique_ptr<BIGNUM, BnFree>;
using BnCtx = std::unique_ptr<BN_CTX, BnCtxFree>;
using Mont = std::unique_ptr<BN_MONT_CTX, MontFree>;
using Pkey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// OpenSSL's failure as an IOError, once; the error queue is emptied so that it cannot confuse a
// later caller on this thread (the TLS code reads the queue).
Status OpensslError(const char* what) {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  std::string message = std::string("OpenSSL failed: ") + what;
  if (reason != nullptr) message += std::string(" (") + reason + ")";
  return Status::IOError(std::move(message));
}

// Bad input: InvalidArgument, and the error queue emptied of what OpenSSL said about it.
Status BadInput(std::string message) {
  ERR_clear_error();
  return Status::InvalidArgument(std::move(message));
}

Bn BnFromBytes(const uint8_t* data, size_t size, bool secret) {
  Bn bn(secret ? BN_secure_new() : BN_new());
  if (bn == nullptr) return nullptr;
  if (BN_bin2bn(data, static_cast<int>(size), bn.get()) == nullptr) return nullptr;
  if (secret) BN_set_flags(bn.get(), BN_FLG_CONSTTIME);
  return bn;
}

Bn NewBn(bool secret) {
  Bn bn(secret ? BN_secure_new() : BN_new());
  if (bn != nullptr && secret) BN_set_flags(bn.get(), BN_FLG_CONSTTIME);
  return bn;
}

Bn PublicExponent() {
  Bn e(BN_new());
  if (e != nullptr && BN_set_word(e.get(), kBlindRsaPublicExponent) != 1) return nullptr;
  return e;
}

// The arithmetic context of one operation modulo n.
struct Modulus {
  Bn n;
  BnCtx ctx;
  Mont mont;
};

Result<Modulus> MakeModulus(const std::vector<uint8_t>& n_bytes) {
  Modulus m;
  m.n = BnFromBytes(n_bytes.data(), n_bytes.size(), false);
  m.ctx.reset(BN_CTX_secure_new());
  m.mont.reset(BN_MONT_CTX_new());
  if (m.n == nullptr || m.ctx == nullptr || m.mont == nullptr ||
      BN_MONT_CTX_set(m.mont.get(), m.n.get(), m.ctx.get()) != 1) {
    return OpensslError("setting up arithmetic modulo n");
  }
  return m;
}

// out = a * b mod n with Montgomery multiplication (no data-dependent division, unlike
// BN_mod_mul). REQUIRES: a, b < n.
bool ModMul(BIGNUM* out, const BIGNUM* a, const BIGNUM* b, Modulus& m) {
  Bn b_mont = NewBn(true);
  return b_mont != nullptr && BN_to_montgomery(b_mont.get(), b, m.mont.get(), m.ctx.get()) == 1 &&
         BN_mod_mul_montgomery(out, a, b_mont.get(), m.mont.get(), m.ctx.get()) == 1;
}

// I2OSP into exactly `size` bytes.
bool ToBytes(const BIGNUM* bn, uint8_t* out, size_t size) {
  return BN_bn2binpad(bn, out, static_cast<int>(size)) == static_cast<int>(size);
}

bool Sha(const EVP_MD* md, const uint8_t* data, size_t size, uint8_t* out) {
  unsigned int out_len = 0;
  return EVP_Digest(data, size, out, &out_len, md, nullptr) == 1;
}

// MGF1 with SHA-384 (RFC 8017 appendix B.2.1), XORed into `out` (which holds DB).
bool XorMgf1Sha384(const uint8_t* seed, size_t seed_size, uint8_t* out, size_t out_size) {
  SecretBytes block(seed_size + 4);
  std::memcpy(block.data(), seed, seed_size);
  uint8_t digest[kBlindRsaHashBytes];
  size_t done = 0;
  for (uint32_t counter = 0; done < out_size; ++counter) {
    block[seed_size] = static_cast<uint8_t>(counter >> 24);
    block[seed_size + 1] = static_cast<uint8_t>(counter >> 16);
    block[seed_size + 2] = static_cast<uint8_t>(counter >> 8);
    block[seed_size + 3] = static_cast<uint8_t>(counter);
    if (!Sha(EVP_sha384(), block.data(), block.size(), digest)) return false;
    for (size_t i = 0; i < sizeof(digest) && done < out_size; ++i, ++done) out[done] ^= digest[i];
  }
  Wipe(digest, sizeof(digest));
  return true;
}

// True if `name` names SHA-384 (OpenSSL spells it "SHA2-384", "SHA384", ...).
bool IsSha384(const char* name) {
  std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, name, nullptr));
  ERR_clear_error();
  return md != nullptr && EVP_MD_is_a(md.get(), "SHA384");
}

// An id-RSASSA-PSS key either is unrestricted or must name exactly this variant's parameters
// (RFC 9474 section 6.2: one key, one encoding). OpenSSL reports only the parameters that differ
// from PSS's defaults (SHA-1, MGF1-SHA-1, salt 20), so all three must be present.
Status CheckPssParameters(const EVP_PKEY* pkey) {
  char digest[64] = {0};
  char mgf1_digest[64] = {0};
  int salt_len = -1;
  const bool has_digest = EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_RSA_DIGEST, digest,
                                                         sizeof(digest), nullptr) == 1;
  const bool has_mgf1 =
      EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_RSA_MGF1_DIGEST, mgf1_digest,
                                     sizeof(mgf1_digest), nullptr) == 1;
  const bool has_salt =
      EVP_PKEY_get_int_param(pkey, OSSL_PKEY_PARAM_RSA_PSS_SALTLEN, &salt_len) == 1;
  ERR_clear_error();
  if (!has_digest && !has_mgf1 && !has_salt) return Status::OK();  // unrestricted
  if (!has_digest || !IsSha384(digest) || !has_mgf1 || !IsSha384(mgf1_digest) || !has_salt ||
      salt_len != static_cast<int>(kBlindRsaSaltBytes)) {
    return BadInput(
        "the RSASSA-PSS key is restricted to other parameters than SHA-384, MGF1-SHA-384 and a "
        "48-byte salt (RSABSSA-SHA384-PSS)");
  }
  return Status::OK();
}

// An EVP_PKEY of `type` ("RSA" or "RSA-PSS") from parameters.
Result<Pkey> PkeyFromParams(const char* type, OSSL_PARAM_BLD* bld, int selection) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return OpensslError("building a key");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    return BadInput("the numbers do not make an RSA key");
  }
  return Pkey(raw);
}

Result<Pkey> PublicPkey(const BIGNUM* n, const BIGNUM* e, bool pss_restricted) {
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e) != 1) {
    return OpensslError("building a public key");
  }
  if (pss_restricted) {
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_RSA_DIGEST, "SHA384", 0) != 1 ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_RSA_MGF1_DIGEST, "SHA384", 0) !=
            1 ||
        OSSL_PARAM_BLD_push_int(bld.get(), OSSL_PKEY_PARAM_RSA_PSS_SALTLEN,
                                static_cast<int>(kBlindRsaSaltBytes)) != 1) {
      return OpensslError("building a public key");
    }
  }
  return PkeyFromParams(pss_restricted ? "RSA-PSS" : "RSA", bld.get(), EVP_PKEY_PUBLIC_KEY);
}

// A public key written by an OSSL_ENCODER.
Result<std::vector<uint8_t>> Encode(const EVP_PKEY* pkey, int selection, const char* format,
                                    const char* structure) {
  std::unique_ptr<OSSL_ENCODER_CTX, EncoderCtxFree> ctx(
      OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, format, structure, nullptr));
  unsigned char* data = nullptr;
  size_t size = 0;
  if (ctx == nullptr || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0 ||
      OSSL_ENCODER_to_data(ctx.get(), &data, &size) != 1) {
    return OpensslError("encoding a public key");
  }
  std::vector<uint8_t> out(data, data + size);
  OPENSSL_free(data);
  return out;
}

Result<SecretBytes> EncodePrivate(const EVP_PKEY* pkey, const char* format) {
  std::unique_ptr<OSSL_ENCODER_CTX, EncoderCtxFree> ctx(
      OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, format, "PrivateKeyInfo", nullptr));
  unsigned char* data = nullptr;
  size_t size = 0;
  if (ctx == nullptr || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0 ||
      OSSL_ENCODER_to_data(ctx.get(), &data, &size) != 1) {
    return OpensslError("encoding a private key");
  }
  SecretBytes out(data, size);
  OPENSSL_clear_free(data, size);
  return out;
}

// Decodes a key of any type OpenSSL knows; `selection` public or key pair.
Result<Pkey> Decode(const uint8_t* data, size_t size, const char* format, int selection,
                    const char* what) {
  // A public key must be a SubjectPublicKeyInfo: a private key file is refused, not mined.
  const char* structure = selection == EVP_PKEY_PUBLIC_KEY ? "SubjectPublicKeyInfo" : nullptr;
  if (size == 0) return BadInput(std::string("the ") + what + " is empty");
  if (size > kMaxKeyFileBytes) {
    return BadInput(std::string("the ") + what + " is larger than 64 KiB: not a key");
  }
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<OSSL_DECODER_CTX, DecoderCtxFree> ctx(
      OSSL_DECODER_CTX_new_for_pkey(&raw, format, structure, nullptr, selection, nullptr, nullptr));
  if (ctx == nullptr) return OpensslError("setting up a key decoder");
  const unsigned char* cursor = data;
  size_t left = size;
  if (OSSL_DECODER_from_data(ctx.get(), &cursor, &left) != 1 || raw == nullptr) {
    EVP_PKEY_free(raw);
    return BadInput(std::string("the ") + what + " is not a " + format + " " +
                    (selection == EVP_PKEY_PUBLIC_KEY ? "SubjectPublicKeyInfo"
                                                      : "PKCS#8 or PKCS#1 private key"));
  }
  Pkey pkey(raw);
  if (std::strcmp(format, "DER") == 0 && left != 0) {
    return BadInput(std::string("the ") + what + " has bytes after its DER structure");
  }
  return pkey;
}

// The checks every key passes: RSA (or RSA-PSS for a public key), 2048..4096 bits, e = 65537, n
// odd. Returns n and e.
Status CheckRsaNumbers(const EVP_PKEY* pkey, Bn* n_out, Bn* e_out) {
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
      EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
    BN_free(n);
    BN_free(e);
    return BadInput("the key has no RSA modulus or exponent");
  }
  n_out->reset(n);
  e_out->reset(e);
  const int bits = BN_num_bits(n);
  if (bits < kBlindRsaMinBits || bits > kBlindRsaMaxBits) {
    return BadInput("the RSA key has " + std::to_string(bits) +
                    " bits; blind signatures here need 2048 to 4096");
  }
  if (!BN_is_odd(n)) return BadInput("the RSA modulus is even: not a valid key");
  if (!BN_is_word(e, kBlindRsaPublicExponent)) {
    return BadInput("the RSA public exponent is not 65537");
  }
  return Status::OK();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public key

Result<BlindRsaPublicKey> BlindRsaPublicKey::FromPkey(const evp_pkey_st* pkey) {
  const bool is_rsa = EVP_PKEY_is_a(pkey, "RSA") == 1;
  const bool is_pss = EVP_PKEY_is_a(pkey, "RSA-PSS") == 1;
  if (!is_rsa && !is_pss) return BadInput("the key is not an RSA key");
  if (is_pss) {
    Status s = CheckPssParameters(pkey);
    if (!s.ok()) return s;
  }
  Bn n, e;
  Status s = CheckRsaNumbers(pkey, &n, &e);
  if (!s.ok()) return s;
  // Always a plain RSA key inside: the PSS parameters are this code's, whatever the file said.
  Result<Pkey> rsa = PublicPkey(n.get(), e.get(), /*pss_restricted=*/false);
  if (!rsa.ok()) return rsa.status();
  const int bits = BN_num_bits(n.get());
  std::vector<uint8_t> n_bytes(static_cast<size_t>((bits + 7) / 8));
  if (!ToBytes(n.get(), n_bytes.data(), n_bytes.size())) return OpensslError("writing n");
  return BlindRsaPublicKey(std::shared_ptr<evp_pkey_st>(rsa->release(), EvpPkeyFree()),
                           std::move(n_bytes), bits);
}

Result<BlindRsaPublicKey> BlindRsaPublicKey::FromDer(const uint8_t* der, size_t size) {
  Result<Pkey> pkey = Decode(der, size, "DER", EVP_PKEY_PUBLIC_KEY, "public key");
  if (!pkey.ok()) return pkey.status();
  return FromPkey(pkey->get());
}

Result<BlindRsaPublicKey> BlindRsaPublicKey::FromPem(std::string_view pem) {
  Result<Pkey> pkey = Decode(reinterpret_cast<const uint8_t*>(pem.data()), pem.size(), "PEM",
                             EVP_PKEY_PUBLIC_KEY, "public key");
  if (!pkey.ok()) return pkey.status();
  return FromPkey(pkey->get());
}

Result<BlindRsaPublicKey> BlindRsaPublicKey::FromModulusAndExponent(const std::vector<uint8_t>& n,
                                                                    const std::vector<uint8_t>& e) {
  Bn n_bn = BnFromBytes(n.data(), n.size(), false);
  Bn e_bn = BnFromBytes(e.data(), e.size(), false);
  if (n_bn == nullptr || e_bn == nullptr) return OpensslError("reading n and e");
  Result<Pkey> pkey = PublicPkey(n_bn.get(), e_bn.get(), /*pss_restricted=*/false);
  if (!pkey.ok()) return pkey.status();
  return FromPkey(pkey->get());
}

namespace {

// The SPKI of `key` in `format`, written as "DER" or "PEM" (`output`).
Result<std::vector<uint8_t>> EncodeSpki(const BlindRsaPublicKey& key, SpkiFormat format,
                                        const char* output) {
  if (format == SpkiFormat::kRsaEncryption) {
    return Encode(key.pkey(), EVP_PKEY_PUBLIC_KEY, output, "SubjectPublicKeyInfo");
  }
  Bn n = BnFromBytes(key.Modulus().data(), key.Modulus().size(), false);
  Bn e = PublicExponent();
  if (n == nullptr || e == nullptr) return OpensslError("reading n");
  Result<Pkey> pss = PublicPkey(n.get(), e.get(), /*pss_restricted=*/true);
  if (!pss.ok()) return pss.status();
  return Encode(pss->get(), EVP_PKEY_PUBLIC_KEY, output, "SubjectPublicKeyInfo");
}

}  // namespace

Result<std::vector<uint8_t>> BlindRsaPublicKey::ToDer(SpkiFormat format) const {
  return EncodeSpki(*this, format, "DER");
}

Result<std::string> BlindRsaPublicKey::ToPem(SpkiFormat format) const {
  Result<std::vector<uint8_t>> pem = EncodeSpki(*this, format, "PEM");
  if (!pem.ok()) return pem.status();
  return std::string(pem->begin(), pem->end());
}

Result<std::array<uint8_t, 32>> BlindRsaPublicKey::KeyId() const {
  Result<std::vector<uint8_t>> der = ToDer(SpkiFormat::kRsaPss);
  if (!der.ok()) return der.status();
  std::array<uint8_t, 32> id;
  if (!Sha(EVP_sha256(), der->data(), der->size(), id.data())) return OpensslError("SHA-256");
  return id;
}

// ---------------------------------------------------------------------------------------------
// Private key

Result<BlindRsaPrivateKey> BlindRsaPrivateKey::FromPkey(Pkey pkey) {
  if (EVP_PKEY_is_a(pkey.get(), "RSA") != 1) {
    return BadInput("the private key is not a plain RSA key (rsaEncryption)");
  }
  Bn n, e;
  Status s = CheckRsaNumbers(pkey.get(), &n, &e);
  if (!s.ok()) return s;
  PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (check == nullptr) return OpensslError("checking the private key");
  if (EVP_PKEY_check(check.get()) != 1) {
    return BadInput("the RSA private key fails its consistency check (primes, d, CRT values)");
  }
  Result<BlindRsaPublicKey> public_key = BlindRsaPublicKey::FromPkey(pkey.get());
  if (!public_key.ok()) return public_key.status();
  return BlindRsaPrivateKey(std::move(pkey), std::move(*public_key));
}

Result<BlindRsaPrivateKey> BlindRsaPrivateKey::Generate(int bits) {
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    return Status::InvalidArgument("an issuer key has 2048, 3072 or 4096 bits, not " +
                                   std::to_string(bits));
  }
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  Bn e = PublicExponent();
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || e == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1 ||
      EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    EVP_PKEY_free(raw);
    return OpensslError("generating an RSA key");
  }
  return FromPkey(Pkey(raw));
}

Result<BlindRsaPrivateKey> BlindRsaPrivateKey::FromDer(const SecretBytes& der) {
  Result<Pkey> pkey = Decode(der.data(), der.size(), "DER", EVP_PKEY_KEYPAIR, "private key");
  if (!pkey.ok()) return pkey.status();
  return FromPkey(std::move(*pkey));
}

Result<BlindRsaPrivateKey> BlindRsaPrivateKey::FromPem(const SecretBytes& pem) {
  Result<Pkey> pkey = Decode(pem.data(), pem.size(), "PEM", EVP_PKEY_KEYPAIR, "private key");
  if (!pkey.ok()) return pkey.status();
  return FromPkey(std::move(*pkey));
}

Result<BlindRsaPrivateKey> BlindRsaPrivateKey::FromComponents(const std::vector<uint8_t>& n,
                                                              const std::vector<uint8_t>& e,
                                                              const SecretBytes& d,
                                                              const SecretBytes& p,
                                                              const SecretBytes& q) {
  Bn n_bn = BnFromBytes(n.data(), n.size(), false);
  Bn e_bn = BnFromBytes(e.data(), e.size(), false);
  Bn d_bn = BnFromBytes(d.data(), d.size(), true);
  Bn p_bn = BnFromBytes(p.data(), p.size(), true);
  Bn q_bn = BnFromBytes(q.data(), q.size(), true);
  Bn dp = NewBn(true), dq = NewBn(true), qinv = NewBn(true), p1 = NewBn(true), q1 = NewBn(true);
  BnCtx ctx(BN_CTX_secure_new());
  if (n_bn == nullptr || e_bn == nullptr || d_bn == nullptr || p_bn == nullptr || q_bn == nullptr ||
      dp == nullptr || dq == nullptr || qinv == nullptr || p1 == nullptr || q1 == nullptr ||
      ctx == nullptr) {
    return OpensslError("reading the key numbers");
  }
  if (BN_is_zero(p_bn.get()) || BN_is_zero(q_bn.get()) || BN_is_one(p_bn.get()) ||
      BN_is_one(q_bn.get())) {
    return BadInput("the primes of the RSA key are not primes");
  }
  // The CRT values: d mod (p-1), d mod (q-1), q^-1 mod p.
  if (BN_sub(p1.get(), p_bn.get(), BN_value_one()) != 1 ||
      BN_sub(q1.get(), q_bn.get(), BN_value_one()) != 1 ||
      BN_mod(dp.get(), d_bn.get(), p1.get(), ctx.get()) != 1 ||
      BN_mod(dq.get(), d_bn.get(), q1.get(), ctx.get()) != 1) {
    return OpensslError("computing the CRT values");
  }
  if (BN_mod_inverse(qinv.get(), q_bn.get(), p_bn.get(), ctx.get()) == nullptr) {
    return BadInput("the primes of the RSA key are not coprime");
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, p_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, q_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv.get()) != 1) {
    return OpensslError("building a private key");
  }
  Result<Pkey> pkey = PkeyFromParams("RSA", bld.get(), EVP_PKEY_KEYPAIR);
  if (!pkey.ok()) return pkey.status();
  return FromPkey(std::move(*pkey));
}

Result<SecretBytes> BlindRsaPrivateKey::ToDer() const { return EncodePrivate(pkey_.get(), "DER"); }

Result<SecretBytes> BlindRsaPrivateKey::ToPem() const { return EncodePrivate(pkey_.get(), "PEM"); }

// ---------------------------------------------------------------------------------------------
// The protocol

namespace internal {

Result<SecretBytes> EmsaPssEncode(const SecretBytes& msg,
                                  const std::array<uint8_t, kBlindRsaSaltBytes>& salt,
                                  int mod_bits) {
  // RFC 8017 9.1.1 with emBits = modBits - 1, as RSASSA-PSS-SIGN calls it. (RFC 9474's Blind
  // writes bit_len(n); its test vectors and every verifier use modBits - 1.)
  constexpr size_t h_len = kBlindRsaHashBytes;
  constexpr size_t s_len = kBlindRsaSaltBytes;
  if (mod_bits < 2) return Status::InvalidArgument("the RSA modulus is too small");
  const size_t em_bits = static_cast<size_t>(mod_bits) - 1;
  const size_t em_len = (em_bits + 7) / 8;
  if (em_len < h_len + s_len + 2) {
    return Status::InvalidArgument("the RSA modulus is too small for PSS with SHA-384");
  }
  // M' = 0x00 * 8 || mHash || salt;  H = Hash(M')
  SecretBytes m_prime(8 + h_len + s_len);
  if (!Sha(EVP_sha384(), msg.data(), msg.size(), m_prime.data() + 8)) {
    return OpensslError("SHA-384");
  }
  std::memcpy(m_prime.data() + 8 + h_len, salt.data(), s_len);
  SecretBytes em(em_len);
  const size_t db_len = em_len - h_len - 1;
  uint8_t* h = em.data() + db_len;
  if (!Sha(EVP_sha384(), m_prime.data(), m_prime.size(), h)) return OpensslError("SHA-384");
  // DB = PS (zeros) || 0x01 || salt, then masked with MGF1(H).
  em[db_len - s_len - 1] = 0x01;
  std::memcpy(em.data() + db_len - s_len, salt.data(), s_len);
  if (!XorMgf1Sha384(h, h_len, em.data(), db_len)) return OpensslError("SHA-384");
  em[0] &= static_cast<uint8_t>(0xFF >> (8 * em_len - em_bits));
  em[em_len - 1] = 0xBC;
  return em;
}

}  // namespace internal

SecretBytes BlindRsaPrepareWithPrefix(const SecretBytes& msg,
                                      const std::array<uint8_t, kBlindRsaPrefixBytes>& prefix) {
  SecretBytes prepared(prefix.data(), prefix.size());
  prepared.Append(msg.data(), msg.size());
  return prepared;
}

SecretBytes BlindRsaPrepare(const SecretBytes& msg) {
  EnsureSodiumInitialised();
  std::array<uint8_t, kBlindRsaPrefixBytes> prefix;
  randombytes_buf(prefix.data(), prefix.size());
  SecretBytes prepared = BlindRsaPrepareWithPrefix(msg, prefix);
  Wipe(prefix.data(), prefix.size());
  return prepared;
}

namespace {

// Blind's steps 1-5 and 9-12 for a given salt; `r` and `inv` are drawn or given by the caller.
Result<std::vector<uint8_t>> BlindWith(const BlindRsaPublicKey& key, const SecretBytes& prepared,
                                       const std::array<uint8_t, kBlindRsaSaltBytes>& salt,
                                       const BIGNUM* r, Modulus& mod) {
  Result<SecretBytes> em = internal::EmsaPssEncode(prepared, salt, key.ModulusBits());
  if (!em.ok()) return em.status();
  Bn m = BnFromBytes(em->data(), em->size(), true);
  Bn gcd = NewBn(true), x = NewBn(true), z = NewBn(true);
  Bn e = PublicExponent();
  if (m == nullptr || gcd == nullptr || x == nullptr || z == nullptr || e == nullptr ||
      BN_gcd(gcd.get(), m.get(), mod.n.get(), mod.ctx.get()) != 1) {
    return OpensslError("blinding");
  }
  if (!BN_is_one(gcd.get())) {
    return BadInput("the encoded message is not coprime with the key's modulus: the key is broken");
  }
  // x = RSAVP1(pk, r) = r^e mod n; z = m * x mod n. r is secret: constant-time exponentiation
  // (BN_FLG_CONSTTIME on r) and Montgomery multiplication.
  if (BN_mod_exp_mont(x.get(), r, e.get(), mod.n.get(), mod.ctx.get(), mod.mont.get()) != 1 ||
      !ModMul(z.get(), m.get(), x.get(), mod)) {
    return OpensslError("blinding");
  }
  std::vector<uint8_t> blinded(key.ModulusBytes());
  if (!ToBytes(z.get(), blinded.data(), blinded.size())) return OpensslError("writing z");
  return blinded;
}

}  // namespace

Result<BlindedMessage> BlindRsaBlind(const BlindRsaPublicKey& key, const SecretBytes& prepared) {
  EnsureSodiumInitialised();
  Result<Modulus> mod = MakeModulus(key.Modulus());
  if (!mod.ok()) return mod.status();
  Bn r = NewBn(true), inv = NewBn(true);
  if (r == nullptr || inv == nullptr) return OpensslError("blinding");
  // r = random_integer_uniform(1, n) by rejection sampling (BN_priv_rand_range), inv = r^-1.
  bool found = false;
  for (int i = 0; i < kBlindingTries && !found; ++i) {
    if (BN_priv_rand_range_ex(r.get(), mod->n.get(), 0, mod->ctx.get()) != 1) {
      return OpensslError("drawing the blinding factor");
    }
    if (BN_is_zero(r.get())) continue;
    found = BN_mod_inverse(inv.get(), r.get(), mod->n.get(), mod->ctx.get()) != nullptr;
    ERR_clear_error();
  }
  if (!found) return Status::IOError("blinding error: no invertible blinding factor found");
  std::array<uint8_t, kBlindRsaSaltBytes> salt;
  randombytes_buf(salt.data(), salt.size());
  Result<std::vector<uint8_t>> blinded = BlindWith(key, prepared, salt, r.get(), *mod);
  if (!blinded.ok()) return blinded.status();
  BlindedMessage out{std::move(*blinded), SecretBytes(key.ModulusBytes())};
  if (!ToBytes(inv.get(), out.inverse.data(), out.inverse.size())) {
    return OpensslError("writing the inverse");
  }
  return out;
}

Result<BlindedMessage> BlindRsaBlindWithSaltAndInverse(
    const BlindRsaPublicKey& key, const SecretBytes& prepared,
    const std::array<uint8_t, kBlindRsaSaltBytes>& salt, const SecretBytes& inverse) {
  if (inverse.size() != key.ModulusBytes()) {
    return Status::InvalidArgument("the inverse is " + std::to_string(inverse.size()) +
                                   " bytes; this key needs " + std::to_string(key.ModulusBytes()));
  }
  Result<Modulus> mod = MakeModulus(key.Modulus());
  if (!mod.ok()) return mod.status();
  Bn inv = BnFromBytes(inverse.data(), inverse.size(), true);
  Bn r = NewBn(true);
  if (inv == nullptr || r == nullptr) return OpensslError("reading the inverse");
  if (BN_is_zero(inv.get()) || BN_cmp(inv.get(), mod->n.get()) >= 0) {
    return Status::InvalidArgument("the inverse is not between 1 and n - 1");
  }
  if (BN_mod_inverse(r.get(), inv.get(), mod->n.get(), mod->ctx.get()) == nullptr) {
    return BadInput("the inverse has no inverse modulo n");
  }
  Result<std::vector<uint8_t>> blinded = BlindWith(key, prepared, salt, r.get(), *mod);
  if (!blinded.ok()) return blinded.status();
  return BlindedMessage{std::move(*blinded), inverse.Clone()};
}

Result<std::vector<uint8_t>> BlindRsaBlindSign(const BlindRsaPrivateKey& key,
                                               const std::vector<uint8_t>& blinded_msg) {
  const BlindRsaPublicKey& pub = key.PublicKey();
  if (blinded_msg.size() != pub.ModulusBytes()) {
    return Status::InvalidArgument("the blinded message is " + std::to_string(blinded_msg.size()) +
                                   " bytes; this key signs " + std::to_string(pub.ModulusBytes()));
  }
  Result<Modulus> mod = MakeModulus(pub.Modulus());
  if (!mod.ok()) return mod.status();
  Bn m = BnFromBytes(blinded_msg.data(), blinded_msg.size(), false);
  if (m == nullptr) return OpensslError("reading the blinded message");
  if (BN_cmp(m.get(), mod->n.get()) >= 0) {
    return Status::InvalidArgument(
        "the blinded message is not below the key's modulus (message representative out of "
        "range)");
  }
  // s = RSASP1(sk, m): OpenSSL's raw private-key operation (CRT, base blinding, constant time).
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey(), nullptr));
  std::vector<uint8_t> sig(pub.ModulusBytes());
  size_t sig_len = sig.size();
  if (ctx == nullptr || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) != 1 ||
      EVP_PKEY_sign(ctx.get(), sig.data(), &sig_len, blinded_msg.data(), blinded_msg.size()) != 1 ||
      sig_len != sig.size()) {
    return OpensslError("the RSA private-key operation");
  }
  // m' = RSAVP1(pk, s) must be m: a faulty private-key operation can leak the key.
  Bn s = BnFromBytes(sig.data(), sig.size(), false);
  Bn e = PublicExponent();
  Bn check = NewBn(false);
  std::vector<uint8_t> check_bytes(pub.ModulusBytes());
  if (s == nullptr || e == nullptr || check == nullptr ||
      BN_mod_exp_mont(check.get(), s.get(), e.get(), mod->n.get(), mod->ctx.get(),
                      mod->mont.get()) != 1 ||
      !ToBytes(check.get(), check_bytes.data(), check_bytes.size())) {
    return OpensslError("checking the signature");
  }
  if (CRYPTO_memcmp(check_bytes.data(), blinded_msg.data(), check_bytes.size()) != 0) {
    return Status::IOError("signing failure: the RSA private-key operation gave a wrong result");
  }
  return sig;
}

Status BlindRsaVerify(const BlindRsaPublicKey& key, const SecretBytes& prepared,
                      const std::vector<uint8_t>& sig) {
  if (sig.size() != key.ModulusBytes()) {
    return Status::InvalidArgument("the signature is " + std::to_string(sig.size()) +
                                   " bytes; this key's are " + std::to_string(key.ModulusBytes()));
  }
  if (std::memcmp(sig.data(), key.Modulus().data(), sig.size()) >= 0) {  // big-endian, same size
    return Status::InvalidArgument("the signature is not below the key's modulus");
  }
  MdCtx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (md == nullptr ||
      EVP_DigestVerifyInit_ex(md.get(), &pctx, "SHA384", nullptr, nullptr, key.pkey(), nullptr) !=
          1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA384", nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, static_cast<int>(kBlindRsaSaltBytes)) != 1) {
    return OpensslError("setting up RSASSA-PSS verification");
  }
  if (EVP_DigestVerify(md.get(), sig.data(), sig.size(), prepared.data(), prepared.size()) != 1) {
    return BadInput("the signature does not verify with this key (RSASSA-PSS, SHA-384)");
  }
  return Status::OK();
}

Result<std::vector<uint8_t>> BlindRsaFinalize(const BlindRsaPublicKey& key,
                                              const SecretBytes& prepared,
                                              const std::vector<uint8_t>& blind_sig,
                                              const SecretBytes& inverse) {
  if (blind_sig.size() != key.ModulusBytes()) {
    return Status::InvalidArgument("the blind signature is " + std::to_string(blind_sig.size()) +
                                   " bytes; this key's are " + std::to_string(key.ModulusBytes()));
  }
  if (inverse.size() != key.ModulusBytes()) {
    return Status::InvalidArgument("the inverse is " + std::to_string(inverse.size()) +
                                   " bytes; this key needs " + std::to_string(key.ModulusBytes()));
  }
  Result<Modulus> mod = MakeModulus(key.Modulus());
  if (!mod.ok()) return mod.status();
  Bn z = BnFromBytes(blind_sig.data(), blind_sig.size(), false);
  Bn inv = BnFromBytes(inverse.data(), inverse.size(), true);
  Bn s = NewBn(true);
  if (z == nullptr || inv == nullptr || s == nullptr) return OpensslError("reading the inputs");
  if (BN_cmp(z.get(), mod->n.get()) >= 0) {
    return Status::InvalidArgument("the blind signature is not below the key's modulus");
  }
  if (BN_cmp(inv.get(), mod->n.get()) >= 0) {
    return Status::InvalidArgument("the inverse is not below the key's modulus");
  }
  // s = z * inv mod n
  if (!ModMul(s.get(), z.get(), inv.get(), *mod)) return OpensslError("unblinding");
  std::vector<uint8_t> sig(key.ModulusBytes());
  if (!ToBytes(s.get(), sig.data(), sig.size())) return OpensslError("writing the signature");
  Status verified = BlindRsaVerify(key, prepared, sig);
  if (!verified.ok()) {
    if (!verified.IsInvalidArgument()) return verified;
    return Status::InvalidArgument(
        "the blind signature does not unblind to a valid signature: it was made with another "
        "key, for another blinded message, or altered");
  }
  return sig;
}

}  // namespace safe::crypto

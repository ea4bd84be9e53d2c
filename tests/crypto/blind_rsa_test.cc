#include "crypto/blind_rsa.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/bytes.h"

namespace safe::crypto {
namespace {

// RFC 9474 (RSA Blind Signatures), Appendix A: the RSABSSA-SHA384-PSS-Randomized vector (A.1)
// and the RSABSSA-SHA384-PSS-Deterministic vector (A.3). Copied from the RFC's vectors as
// published in machine-readable form by cloudflare/circl,
// blindsign/blindrsa/testdata/test_vectors_rfc9474.json, and cross-checked against the same
// values in other implementations' tests (msg_prefix 8417e699..., sig 191e941c...). Note that
// draft-irtf-cfrg-rsa-blind-signatures-13 printed different, inconsistent values for these
// variants; the RFC's are these. Both vectors share the 4096-bit key, msg, salt and inv.
// Before use they were checked with Python integers, independently of this code: p * q = n,
// blind_sig = blinded_msg^d mod n, sig = blind_sig * inv mod n, and (A.3) sig^e = encoded_msg.
constexpr char kP[] =
    "e1f4d7a34802e27c7392a3cea32a262a34dc3691bd87f3f310dc75673488930559c120fd0410194fb8a0da55"
    "bd0b81227e843fdca6692ae80e5a5d414116d4803fca7d8c30eaaae57e44a1816ebb5c5b0606c536246c7f11"
    "985d731684150b63c9a3ad9e41b04c0b5b27cb188a692c84696b742a80d3cd00ab891f2457443dadfeba6d6d"
    "af108602be26d7071803c67105a5426838e6889d77e8474b29244cefaf418e381b312048b457d73419213063"
    "c60ee7b0d81820165864fef93523c9635c22210956e53a8d96322493ffc58d845368e2416e078e5bcb5d2fd6"
    "8ae6acfa54f9627c42e84a9d3f2774017e32ebca06308a12ecc290c7cd1156dcccfb2311";
constexpr char kQ[] =
    "c601a9caea66dc3835827b539db9df6f6f5ae77244692780cd334a006ab353c806426b60718c05245650821d"
    "39445d3ab591ed10a7339f15d83fe13f6a3dfb20b9452c6a9b42eaa62a68c970df3cadb2139f804ad8223d56"
    "108dfde30ba7d367e9b0a7a80c4fdba2fd9dde6661fc73fc2947569d2029f2870fc02d8325acf28c9afa19ec"
    "f962daa7916e21afad09eb62fe9f1cf91b77dc879b7974b490d3ebd2e95426057f35d0a3c9f45f79ac727ab8"
    "1a519a8b9285932d9b2e5ccd347e59f3f32ad9ca359115e7da008ab7406707bd0e8e185a5ed8758b5ba266e8"
    "828f8d863ae133846304a2936ad7bc7c9803879d2fc4a28e69291d73dbd799f8bc238385";
constexpr char kN[] =
    "aec4d69addc70b990ea66a5e70603b6fee27aafebd08f2d94cbe1250c556e047a928d635c3f45ee9b66d1bc6"
    "28a03bac9b7c3f416fe20dabea8f3d7b4bbf7f963be335d2328d67e6c13ee4a8f955e05a3283720d3e1f139c"
    "38e43e0338ad058a9495c53377fc35be64d208f89b4aa721bf7f7d3fef837be2a80e0f8adf0bcd1eec5bb040"
    "443a2b2792fdca522a7472aed74f31a1ebe1eebc1f408660a0543dfe2a850f106a617ec6685573702eaaa21a"
    "5640a5dcaf9b74e397fa3af18a2f1b7c03ba91a6336158de420d63188ee143866ee415735d155b7c2d854d79"
    "5b7bc236cffd71542df34234221a0413e142d8c61355cc44d45bda94204974557ac2704cd8b593f035a5724b"
    "1adf442e78c542cd4414fce6f1298182fb6d8e53cef1adfd2e90e1e4deec52999bdc6c29144e8d52a125232c"
    "8c6d75c706ea3cc06841c7bda33568c63a6c03817f722b50fcf898237d788a4400869e44d90a3020923dc646"
    "388abcc914315215fcd1bae11b1c751fd52443aac8f601087d8d42737c18a3fa11ecd4131ecae017ae0a14ac"
    "fc4ef85b83c19fed33cfd1cd629da2c4c09e222b398e18d822f77bb378dea3cb360b605e5aa58b20edc29d00"
    "0a66bd177c682a17e7eb12a63ef7c2e4183e0d898f3d6bf567ba8ae84f84f1d23bf8b8e261c3729e2fa6d07b"
    "832e07cddd1d14f55325c6f924267957121902dc19b3b32948bdead5";
constexpr char kE[] = "010001";
constexpr char kD[] =
    "0d43242aefe1fb2c13fbc66e20b678c4336d20b1808c558b6e62ad16a287077180b177e1f01b12f9c6cd6c52"
    "630257ccef26a45135a990928773f3bd2fc01a313f1dac97a51cec71cb1fd7efc7adffdeb05f1fb04812c924"
    "ed7f4a8269925dad88bd7dcfbc4ef01020ebfc60cb3e04c54f981fdbd273e69a8a58b8ceb7c2d83fbcbd6f78"
    "4d052201b88a9848186f2a45c0d2826870733e6fd9aa46983e0a6e82e35ca20a439c5ee7b502a9062e106649"
    "3bdadf8b49eb30d9558ed85abc7afb29b3c9bc644199654a4676681af4babcea4e6f71fe4565c9c1b85d9985"
    "b84ec1abf1a820a9bbebee0df1398aae2c85ab580a9f13e7743afd3108eb32100b870648fa6bc17e8abac4d3"
    "c99246b1f0ea9f7f93a5dd5458c56d9f3f81ff2216b3c3680a13591673c43194d8e6fc93fc1e37ce2986bd62"
    "8ac48088bc723d8fbe293861ca7a9f4a73e9fa63b1b6d0074f5dea2a624c5249ff3ad811b6255b299d6bc545"
    "1ba7477f19c5a0db690c3e6476398b1483d10314afd38bbaf6e2fbdbcd62c3ca9797a420ca6034ec0a83360a"
    "3ee2adf4b9d4ba29731d131b099a38d6a23cc463db754603211260e99d19affc902c915d7854554aabf608e3"
    "ac52c19b8aa26ae042249b17b2d29669b5c859103ee53ef9bdc73ba3c6b537d5c34b6d8f034671d7f3a8a696"
    "6cc4543df223565343154140fd7391c7e7be03e241f4ecfeb877a051";
constexpr char kMsg[] =
    "8f3dc6fb8c4a02f4d6352edf0907822c1210a9b32f9bdda4c45a698c80023aa6b59f8cfec5fdbb36331372eb"
    "efedae7d";
constexpr char kSalt[] =
    "051722b35f458781397c3a671a7d3bd3096503940e4c4f1aaa269d60300ce449555cd7340100df9d46944c53"
    "56825abf";
constexpr char kInv[] =
    "80682c48982407b489d53d1261b19ec8627d02b8cda5336750b8cee332ae260de57b02d72609c1e0e9f28e20"
    "40fc65b6f02d56dbd6aa9af8fde656f70495dfb723ba01173d4707a12fddac628ca29f3e32340bd8f7ddb557"
    "cf819f6b01e445ad96f874ba235584ee71f6581f62d4f43bf03f910f6510deb85e8ef06c7f09d9794a008be7"
    "ff2529f0ebb69decef646387dc767b74939265fec0223aa6d84d2a8a1cc912d5ca25b4e144ab8f6ba054b549"
    "10176d5737a2cff011da431bd5f2a0d2d66b9e70b39f4b050e45c0d9c16f02deda9ddf2d00f3e4b01037d702"
    "9cd49c2d46a8e1fc2c0c17520af1f4b5e25ba396afc4cd60c494a4c426448b35b49635b337cfb08e7c22a39b"
    "256dd032c00adddafb51a627f99a0e1704170ac1f1912e49d9db10ec04c19c58f420212973e0cb329524223a"
    "6aa56c7937c5dffdb5d966b6cd4cbc26f3201dd25c80960a1a111b32947bb78973d269fac7f5186530930ed1"
    "9f68507540eed9e1bab8b00f00d8ca09b3f099aae46180e04e3584bd7ca054df18a1504b89d1d1675d0966c4"
    "ae1407be325cdf623cf13ff13e4a28b594d59e3eadbadf6136eee7a59d6a444c9eb4e2198e8a974f27a39eb6"
    "3af2c9af3870488b8adaad444674f512133ad80b9220e09158521614f1faadfe8505ef57b7df6813048603f0"
    "dd04f4280177a11380fbfc861dbcbd7418d62155248dad5fdec0991f";
constexpr char kRandomizedPrefix[] =
    "8417e699b219d583fb6216ae0c53ca0e9723442d02f1d1a34295527e7d929e8b";
constexpr char kRandomizedBlindedMsg[] =
    "aa3ee045138d874669685ffaef962c7694a9450aa9b4fd6465db9b3b75a522bb921c4c0fdcdfae9667593255"
    "099cff51f5d3fd65e8ffb9d3b3036252a6b51b6edfb3f40382b2bbf34c0055e4cbcc422850e586d84f190cd4"
    "49af11dc65545f5fe26fd89796eb87da4bda0c545f397cddfeeb56f06e28135ec74fd477949e7677f6f36cfa"
    "e8fd5c1c5898b03b9c244cf6d1a4fb7ad1cb43aff5e80cb462fac541e72f67f0a50f1843d1759edfaae92d1a"
    "916d3f0efaf4d650db416c3bf8abdb5414a78cebc97de676723cb119e77aea489f2bbf530c440ebc5a75dccd"
    "3ebf5a412a5f346badd61bee588e5917bdcce9dc33c882e39826951b0b8276c6203971947072b726e9358160"
    "56ff5cb11a71ca2946478584126bb877acdf87255f26e6cca4e0878801307485d3b7bb89b289551a8b65a7a6"
    "b93db010423d1406e149c87731910306e5e410b41d4da3234624e74f92845183e323cf7eb244f212a695f885"
    "6c675fbc3a021ce649e22c6f0d053a9d238841cf3afdc2739f99672a419ae13c17f1f8a3bc302ec2e7b98e8c"
    "353898b7150ad8877ec841ea6e4b288064c254fefd0d049c3ad196bf7ffa535e74585d0120ce728036ed5009"
    "42fbd5e6332c298f1ffebe9ff60c1e117b274cf0cb9d70c36ee4891528996ec1ed0b178e9f3c0c0e6120885f"
    "39e8ccaadbb20f3196378c07b1ff22d10049d3039a7a92fe7efdd95d";
constexpr char kRandomizedBlindSig[] =
    "3f4a79eacd4445fca628a310d41e12fcd813c4d43aa4ef2b81226953248d6d00adfee6b79cb88bfa1f992703"
    "69fd063c023e5ed546719b0b2d143dd1bca46b0e0e615fe5c63d95c5a6b873b8b50bc52487354e69c3dfbf41"
    "6e7aca18d5842c89b676efdd38087008fa5a810161fcdec26f20ccf2f1e6ab0f9d2bb93e051cb9e86a9b28c5"
    "bb62fd5f5391379f887c0f706a08bcc3b9e7506aaf02485d688198f5e22eefdf837b2dd919320b17482c5cc5"
    "4271b4ccb41d267629b3f844fd63750b01f5276c79e33718bb561a152acb2eb36d8be75bce05c9d1b94eb609"
    "106f38226fb2e0f5cd5c5c39c59dda166862de498b8d92f6bcb41af433d65a2ac23da87f39764cb64e79e74a"
    "8f4ce4dd567480d967cefac46b6e9c06434c3715635834357edd2ce6f105eea854ac126ccfa3de2aac560756"
    "5a4e5efaac5eed491c335f6fc97e6eb7e9cea3e12de38dfb315220c0a3f84536abb2fdd722813e083feda010"
    "391ac3d8fd1cd9212b5d94e634e69ebcc800c4d5c4c1091c64afc37acf563c7fc0a6e4c082bc55544f50a797"
    "1f3fb97d5853d72c3af34ffd5ce123998be5360d1059820c66a81e1ee6d9c1803b5b62af6bc877526df255b6"
    "d1d835d8c840bebbcd6cc0ee910f17da37caf8488afbc08397a1941fcc79e76a5888a95b3d5405e13f737bea"
    "5c78d716a48eb9dc0aec8de39c4b45c6914ad4a8185969f70b1adf46";
constexpr char kRandomizedSig[] =
    "191e941c57510e22d29afad257de5ca436d2316221fe870c7cb75205a6c071c2735aed0bc24c37f3d5bd960a"
    "b97a829a508f966bbaed7a82645e65eadaf24ab5e6d9421392c5b15b7f9b640d34fec512846a3100b80f75ef"
    "51064602118c1a77d28d938f6efc22041d60159a518d3de7c4d840c9c68109672d743d299d8d2577ef60c19a"
    "b463c716b3fa75fa56f5735349d414a44df12bf0dd44aa3e10822a651ed4cb0eb6f47c9bd0ef14a034a7ac24"
    "51e30434d513eb22e68b7587a8de9b4e63a059d05c8b22c7c51e2cfee2d8bef511412e93c859a13726d87c57"
    "d1bc4c2e68ab121562f839c3a3d233e87ed63c69b7e57525367753fbebcc2a9805a2802659f5888b2c69115b"
    "f865559f10d906c09d048a0d71bfee4b33857393ec2b69e451433496d02c9a7910abb954317720bbde9e6910"
    "8eafc3e90bad3d5ca4066d7b1e49013fa04e948104a1dd82b12509ecb146e948c54bd8bfb5e6d18127cd1f7a"
    "93c3cf9f2d869d5a78878c03fe808a0d799e910be6f26d18db61c485b303631d3568368fc41986d08a95ea6a"
    "c0592240c19d7b22416b9c82ae6241e211dd5610d0baaa9823158f9c32b66318f5529491b7eeadcaa71898a6"
    "3bac9d95f4aa548d5e97568d744fc429104e32edd9c87519892a198a30d333d427739ffb9607b092e910ae37"
    "771abf2adb9f63bc058bf58062ad456cb934679795bbdfcdfad5e0f2";
constexpr char kDeterministicEncodedMsg[] =
    "6e0c464d9c2f9fbc147b43570fc4f238e0d0b38870b3addcf7a4217df912ccef17a7f629aa850f63a063925f"
    "312d61d6437be954b45025e8282f9c0b1131bc8ff19a8a928d859b37113db1064f92a27f64761c181c1e1f9b"
    "251ae5a2f8a4047573b67a270584e089beadcb13e7c82337797119712e9b849ff56e04385d144d3ca9d8d92b"
    "f78adb20b5bbeb3685f17038ec6afade3ef354429c51c687b45a7018ee3a6966b3af15c9ba8f40e6461ba0a1"
    "7ef5a799672ad882bab02b518f9da7c1a962945c2e9b0f02f29b31b9cdf3e633f9d9d2a22e96e1de28e25241"
    "ca7dd04147112f578973403e0f4fd80865965475d22294f065e17a1c4a201de93bd14223e6b1b999fd548f2f"
    "759f52db71964528b6f15b9c2d7811f2a0a35d534b8216301c47f4f04f412cae142b48c4cdff78bc54df690f"
    "d43142d750c671dd8e2e938e6a440b2f825b6dbb3e19f1d7a3c0150428a47948037c322365b7fe6fe57ac88d"
    "8f80889e9ff38177bad8c8d8d98db42908b389cb59692a58ce275aa15acb032ca951b3e0a3404b7f33f655b7"
    "c7d83a2f8d1b6bbff49d5fcedf2e030e80881aa436db27a5c0dea13f32e7d460dbf01240c2320c2bb5b3225b"
    "17145c72d61d47c8f84d1e19417ebd8ce3638a82d395cc6f7050b6209d9283dc7b93fecc04f3f9e7f566829a"
    "c41568ef799480c733c09759aa9734e2013d7640dc6151018ea902bc";
constexpr char kDeterministicBlindedMsg[] =
    "10c166c6a711e81c46f45b18e5873cc4f494f003180dd7f115585d871a28930259654fe28a54dab319cc5011"
    "204c8373b50a57b0fdc7a678bd74c523259dfe4fd5ea9f52f170e19dfa332930ad1609fc8a00902d725cfe50"
    "685c95e5b2968c9a2828a21207fcf393d15f849769e2af34ac4259d91dfd98c3a707c509e1af55647efaa312"
    "90ddf48e0133b798562af5eabd327270ac2fb6c594734ce339a14ea4fe1b9a2f81c0bc230ca523bda17ff42a"
    "377266bc2778a274c0ae5ec5a8cbbe364fcf0d2403f7ee178d77ff28b67a20c7ceec009182dbcaa9bc99b51e"
    "bbf13b7d542be337172c6474f2cd3561219fe0dfa3fb207cff89632091ab841cf38d8aa88af6891539f263ad"
    "b8eac6402c41b6ebd72984e43666e537f5f5fe27b2b5aa114957e9a580730308a5f5a9c63a1eb599f093ab40"
    "1d0c6003a451931b6d124180305705845060ebba6b0036154fcef3e5e9f9e4b87e8f084542fd1dd67e7782a5"
    "585150181c01eb6d90cb95883837384a5b91dbb606f266059ecc51b5acbaa280e45cfd2eec8cc1cdb1b7211c"
    "8e14805ba683f9b78824b2eb005bc8a7d7179a36c152cb87c8219e5569bba911bb32a1b923ca83de0e03fb10"
    "fba75d85c55907dda5a2606bf918b056c3808ba496a4d95532212040a5f44f37e1097f26dc27b98a51837daa"
    "78f23e532156296b64352669c94a8a855acf30533d8e0594ace7c442";
constexpr char kDeterministicBlindSig[] =
    "364f6a40dbfbc3bbb257943337eeff791a0f290898a6791283bba581d9eac90a6376a837241f5f73a78a5c67"
    "46e1306ba3adab6067c32ff69115734ce014d354e2f259d4cbfb890244fd451a497fe6ecf9aa90d19a2d4411"
    "62f7eaa7ce3fc4e89fd4e76b7ae585be2a2c0fd6fb246b8ac8d58bcb585634e30c9168a434786fe5e0b74bfe"
    "8187b47ac091aa571ffea0a864cb906d0e28c77a00e8cd8f6aba4317a8cc7bf32ce566bd1ef80c64de041728"
    "abe087bee6cadd0b7062bde5ceef308a23bd1ccc154fd0c3a26110df6193464fc0d24ee189aea8979d722170"
    "ba945fdcce9b1b4b63349980f3a92dc2e5418c54d38a862916926b3f9ca270a8cf40dfb9772bfbdd9a3e0e08"
    "92369c18249211ba857f35963d0e05d8da98f1aa0c6bba58f47487b8f663e395091275f82941830b050b260e"
    "4767ce2fa903e75ff8970c98bfb3a08d6db91ab1746c86420ee2e909bf681cac173697135983c3594b2def67"
    "3736220452fde4ddec867d40ff42dd3da36c84e3e52508b891a00f50b4f62d112edb3b6b6cc3dbd546ba10f3"
    "6b03f06c0d82aeec3b25e127af545fac28e1613a0517a6095ad18a98ab79f68801e05c175e15bae21f821e80"
    "c80ab4fdec6fb34ca315e194502b8f3dcf7892b511aee45060e3994cd15e003861bc7220a2babd7b40eda033"
    "82548a34a7110f9b1779bf3ef6011361611e6bc5c0dc851e1509de1a";
constexpr char kDeterministicSig[] =
    "6fef8bf9bc182cd8cf7ce45c7dcf0e6f3e518ae48f06f3c670c649ac737a8b8119a34d51641785be151a697e"
    "d7825fdfece82865123445eab03eb4bb91cecf4d6951738495f8481151b62de869658573df4e50a95c17c31b"
    "52e154ae26a04067d5ecdc1592c287550bb982a5bb9c30fd53a768cee6baabb3d483e9f1e2da954c7f4cf492"
    "fe3944d2fe456c1ecaf0840369e33fb4010e6b44bb1d721840513524d8e9a3519f40d1b81ae34fb7a31ee6b7"
    "ed641cb16c2ac999004c2191de0201457523f5a4700dd649267d9286f5c1d193f1454c9f868a57816bf5ff76"
    "c838a2eeb616a3fc9976f65d4371deecfbab29362caebdff69c635fe5a2113da4d4d8c24f0b16a0584fa05e8"
    "0e607c5d9a2f765f1f069f8d4da21f27c2a3b5c984b4ab24899bef46c6d9323df4862fe51ce300fca40fb539"
    "c3bb7fe2dcc9409e425f2d3b95e70e9c49c5feb6ecc9d43442c33d50003ee936845892fb8be475647da9a080"
    "f5bc7f8a716590b3745c2209fe05b17992830ce15f32c7b22cde755c8a2fe50bd814a0434130b807dc1b7218"
    "d4e85342d70695a5d7f29306f25623ad1e8aa08ef71b54b8ee447b5f64e73d09bdd6c3b7ca224058d7c67cc7"
    "551e9241688ada12d859cb7646fbd3ed8b34312f3b49d69802f0eaa11bc4211c2f7a29cd5c01ed01a39001c5"
    "856fab36228f5ee2f2e1110811872fe7c865c42ed59029c706195d52";

std::vector<uint8_t> FromHex(const char* hex) {
  const std::string bytes = safe::testing::FromHex(hex);
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

SecretBytes SecretFromHex(const char* hex) {
  std::vector<uint8_t> bytes = FromHex(hex);
  return SecretBytes(bytes.data(), bytes.size());
}

using safe::testing::Hex;

template <size_t N>
std::array<uint8_t, N> ArrayFromHex(const char* hex) {
  std::vector<uint8_t> bytes = FromHex(hex);
  std::array<uint8_t, N> out{};
  EXPECT_EQ(bytes.size(), N);
  std::copy_n(bytes.begin(), std::min(N, bytes.size()), out.begin());
  return out;
}

BlindRsaPrivateKey RfcKey() {
  Result<BlindRsaPrivateKey> key = BlindRsaPrivateKey::FromComponents(
      FromHex(kN), FromHex(kE), SecretFromHex(kD), SecretFromHex(kP), SecretFromHex(kQ));
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return std::move(*key);
}

// One 2048-bit key per test binary: generating costs a fraction of a second each.
const BlindRsaPrivateKey& KeyA() {
  static const BlindRsaPrivateKey* key =
      new BlindRsaPrivateKey(std::move(BlindRsaPrivateKey::Generate(2048).value()));
  return *key;
}
const BlindRsaPrivateKey& KeyB() {
  static const BlindRsaPrivateKey* key =
      new BlindRsaPrivateKey(std::move(BlindRsaPrivateKey::Generate(2048).value()));
  return *key;
}

// RSASSA-PSS verification by OpenSSL's own verifier, straight from a PEM public key: SHA-384,
// MGF1-SHA-384, salt length 48. Independent of blind_rsa.cc's code paths (its PEM reader, its
// EMSA-PSS encoder, its Verify).
bool OpenSslVerifies(const std::string& pem, const SecretBytes& msg,
                     const std::vector<uint8_t>& sig) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) {
    ADD_FAILURE() << "OpenSSL cannot read the PEM";
    return false;
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestVerifyInit(md, &pctx, EVP_sha384(), nullptr, pkey) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 &&
            EVP_DigestVerify(md, sig.data(), sig.size(), msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pkey);
  ERR_clear_error();
  return ok;
}

std::string PemOf(const BlindRsaPublicKey& key, SpkiFormat format) {
  Result<std::string> pem = key.ToPem(format);
  EXPECT_TRUE(pem.ok()) << pem.status().ToString();
  return pem.ok() ? *pem : std::string();
}

// A whole run of the protocol; returns the prepared message and the signature.
struct Issued {
  SecretBytes prepared;
  std::vector<uint8_t> sig;
};
Issued IssueFor(const BlindRsaPrivateKey& key, const std::string& msg) {
  Issued out;
  out.prepared = BlindRsaPrepare(SecretBytes::FromString(msg));
  Result<BlindedMessage> blinded = BlindRsaBlind(key.PublicKey(), out.prepared);
  EXPECT_TRUE(blinded.ok()) << blinded.status().ToString();
  if (!blinded.ok()) return out;
  Result<std::vector<uint8_t>> blind_sig = BlindRsaBlindSign(key, blinded->blinded_msg);
  EXPECT_TRUE(blind_sig.ok()) << blind_sig.status().ToString();
  if (!blind_sig.ok()) return out;
  Result<std::vector<uint8_t>> sig =
      BlindRsaFinalize(key.PublicKey(), out.prepared, *blind_sig, blinded->inverse);
  EXPECT_TRUE(sig.ok()) << sig.status().ToString();
  if (sig.ok()) out.sig = *sig;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Known answers

// The RFC's expected outputs for one vector.
struct ExpectedOutputs {
  const char* blinded_msg;
  const char* blind_sig;
  const char* sig;
};

// Blind (with the RFC's salt and inverse), BlindSign, Finalize and Verify give the RFC's bytes,
// and OpenSSL's verifier accepts the RFC's signature.
void ExpectVectorPasses(const BlindRsaPrivateKey& key, const SecretBytes& prepared,
                        const ExpectedOutputs& expected) {
  const BlindRsaPublicKey& pub = key.PublicKey();
  Result<BlindedMessage> blinded = BlindRsaBlindWithSaltAndInverse(
      pub, prepared, ArrayFromHex<kBlindRsaSaltBytes>(kSalt), SecretFromHex(kInv));
  ASSERT_TRUE(blinded.ok()) << blinded.status().ToString();
  EXPECT_EQ(Hex(blinded->blinded_msg), expected.blinded_msg);
  EXPECT_EQ(Hex(blinded->inverse), kInv);

  Result<std::vector<uint8_t>> blind_sig = BlindRsaBlindSign(key, blinded->blinded_msg);
  ASSERT_TRUE(blind_sig.ok()) << blind_sig.status().ToString();
  EXPECT_EQ(Hex(*blind_sig), expected.blind_sig);

  Result<std::vector<uint8_t>> sig = BlindRsaFinalize(pub, prepared, *blind_sig, blinded->inverse);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(Hex(*sig), expected.sig);

  EXPECT_TRUE(BlindRsaVerify(pub, prepared, FromHex(expected.sig)).ok());
  // The RFC's signature as the RFC gives it, checked by OpenSSL's verifier alone (both SPKIs).
  for (SpkiFormat format : {SpkiFormat::kRsaEncryption, SpkiFormat::kRsaPss}) {
    EXPECT_TRUE(OpenSslVerifies(PemOf(pub, format), prepared, FromHex(expected.sig)));
  }
}

TEST(BlindRsaTest, Rfc9474RandomizedVectorPassesBlindSignFinalizeAndVerifyByteForByte) {
  const BlindRsaPrivateKey key = RfcKey();
  ASSERT_EQ(key.PublicKey().ModulusBits(), 4096);
  const SecretBytes prepared = BlindRsaPrepareWithPrefix(
      SecretFromHex(kMsg), ArrayFromHex<kBlindRsaPrefixBytes>(kRandomizedPrefix));
  EXPECT_EQ(Hex(prepared), std::string(kRandomizedPrefix) + kMsg);
  ExpectVectorPasses(key, prepared, {kRandomizedBlindedMsg, kRandomizedBlindSig, kRandomizedSig});
}

TEST(BlindRsaTest, Rfc9474DeterministicVectorPassesEncodeBlindSignFinalizeAndVerify) {
  const BlindRsaPrivateKey key = RfcKey();
  const SecretBytes prepared = SecretFromHex(kMsg);  // PrepareIdentity
  Result<SecretBytes> encoded =
      internal::EmsaPssEncode(prepared, ArrayFromHex<kBlindRsaSaltBytes>(kSalt), 4096);
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_EQ(Hex(*encoded), kDeterministicEncodedMsg);
  ExpectVectorPasses(key, prepared,
                     {kDeterministicBlindedMsg, kDeterministicBlindSig, kDeterministicSig});
}

TEST(BlindRsaTest, RfcKeyWrittenAsRsaEncryptionSpkiIsTheWellKnownPem) {
  // The first line of the RFC 9474 test key's PEM as third parties publish it for checking blind
  // RSA implementations (e.g. Persona's Privacy Pass "Implementation Verification" page):
  // SubjectPublicKeyInfo, rsaEncryption, 30 82 02 22 ... 02 82 02 01 00 ae c4 d6 9a ... (n).
  const std::string pem = PemOf(RfcKey().PublicKey(), SpkiFormat::kRsaEncryption);
  EXPECT_EQ(pem.substr(0, 27 + 64),
            "-----BEGIN PUBLIC KEY-----\n"
            "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEArsTWmt3HC5kOpmpecGA7");
}

// ---------------------------------------------------------------------------------------------
// The protocol with fresh keys and fresh randomness

TEST(BlindRsaTest, FreshRoundTripVerifiesHereAndWithOpenSslsPssVerifier) {
  const BlindRsaPrivateKey& key = KeyA();
  Issued issued = IssueFor(key, "token 1");
  ASSERT_EQ(issued.sig.size(), 256u);
  EXPECT_TRUE(BlindRsaVerify(key.PublicKey(), issued.prepared, issued.sig).ok());
  EXPECT_TRUE(OpenSslVerifies(PemOf(key.PublicKey(), SpkiFormat::kRsaEncryption), issued.prepared,
                              issued.sig));
  EXPECT_TRUE(
      OpenSslVerifies(PemOf(key.PublicKey(), SpkiFormat::kRsaPss), issued.prepared, issued.sig));
}

TEST(BlindRsaTest, PrepareAddsAFreshRandomPrefixOf32Bytes) {
  const SecretBytes msg = SecretBytes::FromString("same message");
  const SecretBytes a = BlindRsaPrepare(msg);
  const SecretBytes b = BlindRsaPrepare(msg);
  ASSERT_EQ(a.size(), kBlindRsaPrefixBytes + msg.size());
  EXPECT_EQ(a.view().substr(kBlindRsaPrefixBytes), msg.view());
  EXPECT_EQ(b.view().substr(kBlindRsaPrefixBytes), msg.view());
  EXPECT_NE(a.view().substr(0, kBlindRsaPrefixBytes), b.view().substr(0, kBlindRsaPrefixBytes));
}

TEST(BlindRsaTest, BlindingTheSameMessageTwiceGivesUnrelatedBlindedMessages) {
  // What makes the issuer blind: it cannot match a blinded message to the token it becomes.
  const BlindRsaPublicKey& pub = KeyA().PublicKey();
  const SecretBytes prepared = BlindRsaPrepare(SecretBytes::FromString("t"));
  Result<BlindedMessage> a = BlindRsaBlind(pub, prepared);
  Result<BlindedMessage> b = BlindRsaBlind(pub, prepared);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->blinded_msg, b->blinded_msg);
  EXPECT_FALSE(a->inverse.Equals(b->inverse));
  EXPECT_EQ(a->blinded_msg.size(), pub.ModulusBytes());
  EXPECT_EQ(a->inverse.size(), pub.ModulusBytes());
}

TEST(BlindRsaTest, GeneratesKeysOf2048And3072BitsThatWork) {
  // 4096 bits is covered by the RFC key; generating one takes seconds.
  for (int bits : {2048, 3072}) {
    Result<BlindRsaPrivateKey> key = BlindRsaPrivateKey::Generate(bits);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(key->PublicKey().ModulusBits(), bits);
    EXPECT_EQ(key->PublicKey().ModulusBytes(), static_cast<size_t>(bits / 8));
    Issued issued = IssueFor(*key, "token");
    EXPECT_TRUE(BlindRsaVerify(key->PublicKey(), issued.prepared, issued.sig).ok()) << bits;
  }
}

TEST(BlindRsaTest, GenerateRefusesOtherSizes) {
  for (int bits : {0, 1024, 2047, 2049, 8192}) {
    Result<BlindRsaPrivateKey> key = BlindRsaPrivateKey::Generate(bits);
    ASSERT_FALSE(key.ok()) << bits;
    EXPECT_TRUE(key.status().IsInvalidArgument()) << key.status().ToString();
  }
}

// ---------------------------------------------------------------------------------------------
// Bad signatures, wrong keys, numbers out of range

TEST(BlindRsaTest, VerifyRejectsATamperedSignatureOrMessage) {
  const BlindRsaPrivateKey& key = KeyA();
  Issued issued = IssueFor(key, "token");
  for (size_t byte : {size_t{1}, issued.sig.size() / 2, issued.sig.size() - 1}) {
    std::vector<uint8_t> tampered = issued.sig;
    tampered[byte] ^= 0x01;
    Status s = BlindRsaVerify(key.PublicKey(), issued.prepared, tampered);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  }
  SecretBytes other_msg = issued.prepared.Clone();
  other_msg[other_msg.size() - 1] ^= 0x01;
  EXPECT_TRUE(BlindRsaVerify(key.PublicKey(), other_msg, issued.sig).IsInvalidArgument());
  SecretBytes other_prefix = issued.prepared.Clone();
  other_prefix[0] ^= 0x80;
  EXPECT_TRUE(BlindRsaVerify(key.PublicKey(), other_prefix, issued.sig).IsInvalidArgument());
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL's error queue is left empty";
}

// An ordinary RSASSA-PSS signature by OpenSSL with KeyA over msg, with the given digest (also
// for MGF1) and salt length.
std::vector<uint8_t> OpenSslPssSign(const SecretBytes& msg, const EVP_MD* md, int salt_len) {
  Result<SecretBytes> der = KeyA().ToDer();
  EXPECT_TRUE(der.ok());
  const unsigned char* cursor = der->data();
  EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &cursor, static_cast<long>(der->size()));
  EXPECT_NE(pkey, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  std::vector<uint8_t> sig(KeyA().PublicKey().ModulusBytes());
  size_t sig_len = sig.size();
  EXPECT_TRUE(EVP_DigestSignInit(ctx, &pctx, md, nullptr, pkey) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1 &&
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) == 1 &&
              EVP_DigestSign(ctx, sig.data(), &sig_len, msg.data(), msg.size()) == 1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return sig;
}

TEST(BlindRsaTest, VerifyAcceptsOnlyPssWithSha384AndA48ByteSalt) {
  // Verify is RSASSA-PSS-VERIFY with the variant's parameters, not "any PSS signature".
  const SecretBytes msg = BlindRsaPrepare(SecretBytes::FromString("token"));
  const BlindRsaPublicKey& pub = KeyA().PublicKey();
  EXPECT_TRUE(BlindRsaVerify(pub, msg, OpenSslPssSign(msg, EVP_sha384(), 48)).ok());
  EXPECT_TRUE(BlindRsaVerify(pub, msg, OpenSslPssSign(msg, EVP_sha384(), 32)).IsInvalidArgument());
  EXPECT_TRUE(BlindRsaVerify(pub, msg, OpenSslPssSign(msg, EVP_sha384(), 0)).IsInvalidArgument());
  EXPECT_TRUE(BlindRsaVerify(pub, msg, OpenSslPssSign(msg, EVP_sha256(), 48)).IsInvalidArgument());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(BlindRsaTest, VerifyRejectsASignatureFromAnotherKey) {
  Issued issued = IssueFor(KeyA(), "token");
  Status s = BlindRsaVerify(KeyB().PublicKey(), issued.prepared, issued.sig);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  // The keys are generated per run: A's signature is at or above B's modulus in about half of
  // the runs, and refused for that before any verification.
  EXPECT_TRUE(s.message().find("does not verify") != std::string::npos ||
              s.message().find("not below the key's modulus") != std::string::npos)
      << s.message();
}

TEST(BlindRsaTest, FinalizeRejectsATamperedBlindSignature) {
  const BlindRsaPrivateKey& key = KeyA();
  const SecretBytes prepared = BlindRsaPrepare(SecretBytes::FromString("token"));
  Result<BlindedMessage> blinded = BlindRsaBlind(key.PublicKey(), prepared);
  ASSERT_TRUE(blinded.ok());
  Result<std::vector<uint8_t>> blind_sig = BlindRsaBlindSign(key, blinded->blinded_msg);
  ASSERT_TRUE(blind_sig.ok());
  std::vector<uint8_t> tampered = *blind_sig;
  tampered[100] ^= 0x10;
  Result<std::vector<uint8_t>> sig =
      BlindRsaFinalize(key.PublicKey(), prepared, tampered, blinded->inverse);
  ASSERT_FALSE(sig.ok());
  EXPECT_TRUE(sig.status().IsInvalidArgument()) << sig.status().ToString();
  // The untampered one still finalizes: the check is not failing for another reason.
  EXPECT_TRUE(BlindRsaFinalize(key.PublicKey(), prepared, *blind_sig, blinded->inverse).ok());
}

TEST(BlindRsaTest, FinalizeRejectsABlindSignatureMadeWithAnotherKey) {
  // A malicious or misconfigured issuer signs with a key other than the one the client blinded
  // for: Finalize must notice (RFC 9474 section 4.4 step 5).
  const SecretBytes prepared = BlindRsaPrepare(SecretBytes::FromString("token"));
  Result<BlindedMessage> blinded = BlindRsaBlind(KeyA().PublicKey(), prepared);
  ASSERT_TRUE(blinded.ok());
  std::vector<uint8_t> in_range = blinded->blinded_msg;
  in_range[0] = 0;  // below KeyB's n too
  Result<std::vector<uint8_t>> blind_sig = BlindRsaBlindSign(KeyB(), in_range);
  ASSERT_TRUE(blind_sig.ok()) << blind_sig.status().ToString();
  std::vector<uint8_t> z = *blind_sig;
  z[0] = 0;  // below KeyA's n
  Result<std::vector<uint8_t>> sig =
      BlindRsaFinalize(KeyA().PublicKey(), prepared, z, blinded->inverse);
  ASSERT_FALSE(sig.ok());
  EXPECT_TRUE(sig.status().IsInvalidArgument()) << sig.status().ToString();
}

TEST(BlindRsaTest, FinalizeRejectsTheWrongInverse) {
  const BlindRsaPrivateKey& key = KeyA();
  const SecretBytes prepared = BlindRsaPrepare(SecretBytes::FromString("token"));
  Result<BlindedMessage> a = BlindRsaBlind(key.PublicKey(), prepared);
  Result<BlindedMessage> b = BlindRsaBlind(key.PublicKey(), prepared);
  ASSERT_TRUE(a.ok() && b.ok());
  Result<std::vector<uint8_t>> blind_sig = BlindRsaBlindSign(key, a->blinded_msg);
  ASSERT_TRUE(blind_sig.ok());
  EXPECT_TRUE(BlindRsaFinalize(key.PublicKey(), prepared, *blind_sig, b->inverse)
                  .status()
                  .IsInvalidArgument());
}

TEST(BlindRsaTest, BlindSignRejectsMessagesOutOfRangeOrOfTheWrongLength) {
  const BlindRsaPrivateKey& key = KeyA();
  const std::vector<uint8_t>& n = key.PublicKey().Modulus();
  const std::vector<std::vector<uint8_t>> bad = {
      n,                                      // = n
      std::vector<uint8_t>(n.size(), 0xFF),   // > n
      std::vector<uint8_t>(n.size() - 1, 1),  // short
      std::vector<uint8_t>(n.size() + 1, 0),  // long (even if its value is in range)
      {},
  };
  for (const std::vector<uint8_t>& blinded : bad) {
    Result<std::vector<uint8_t>> sig = BlindRsaBlindSign(key, blinded);
    ASSERT_FALSE(sig.ok()) << blinded.size();
    EXPECT_TRUE(sig.status().IsInvalidArgument()) << sig.status().ToString();
  }
  std::vector<uint8_t> n_minus_1 = n;
  n_minus_1.back() -= 1;  // n is odd
  EXPECT_TRUE(BlindRsaBlindSign(key, n_minus_1).ok()) << "n - 1 is the largest in range";
  Result<std::vector<uint8_t>> at_n = BlindRsaBlindSign(key, n);
  EXPECT_NE(at_n.status().message().find("out of range"), std::string::npos)
      << at_n.status().message();
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(BlindRsaTest, FinalizeAndVerifyRejectNumbersOutOfRangeOrOfTheWrongLength) {
  const BlindRsaPrivateKey& key = KeyA();
  const BlindRsaPublicKey& pub = key.PublicKey();
  const SecretBytes prepared = BlindRsaPrepare(SecretBytes::FromString("token"));
  Result<BlindedMessage> blinded = BlindRsaBlind(pub, prepared);
  ASSERT_TRUE(blinded.ok());
  const std::vector<uint8_t>& n = pub.Modulus();
  const std::vector<uint8_t> ones(n.size(), 0xFF);
  const std::vector<uint8_t> short_sig(n.size() - 1, 1);

  EXPECT_TRUE(BlindRsaFinalize(pub, prepared, n, blinded->inverse).status().IsInvalidArgument());
  EXPECT_TRUE(BlindRsaFinalize(pub, prepared, ones, blinded->inverse).status().IsInvalidArgument());
  EXPECT_TRUE(
      BlindRsaFinalize(pub, prepared, short_sig, blinded->inverse).status().IsInvalidArgument());
  Result<std::vector<uint8_t>> blind_sig = BlindRsaBlindSign(key, blinded->blinded_msg);
  ASSERT_TRUE(blind_sig.ok());
  EXPECT_TRUE(BlindRsaFinalize(pub, prepared, *blind_sig, SecretBytes(n.data(), n.size()))
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(
      BlindRsaFinalize(pub, prepared, *blind_sig, SecretBytes(3)).status().IsInvalidArgument());

  Status at_n = BlindRsaVerify(pub, prepared, n);
  EXPECT_TRUE(at_n.IsInvalidArgument());
  EXPECT_NE(at_n.message().find("not below"), std::string::npos) << at_n.message();
  EXPECT_TRUE(BlindRsaVerify(pub, prepared, ones).IsInvalidArgument());
  EXPECT_TRUE(BlindRsaVerify(pub, prepared, short_sig).IsInvalidArgument());
  EXPECT_TRUE(BlindRsaVerify(pub, prepared, {}).IsInvalidArgument());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(BlindRsaTest, BlindWithAGivenInverseRejectsOneThatIsNotANumberModN) {
  const BlindRsaPublicKey& pub = KeyA().PublicKey();
  const SecretBytes prepared = BlindRsaPrepare(SecretBytes::FromString("token"));
  const std::array<uint8_t, kBlindRsaSaltBytes> salt{};
  const std::vector<uint8_t>& n = pub.Modulus();
  for (const SecretBytes& inverse :
       {SecretBytes(n.size()), SecretBytes(n.data(), n.size()), SecretBytes(n.size() - 1)}) {
    EXPECT_TRUE(
        BlindRsaBlindWithSaltAndInverse(pub, prepared, salt, inverse).status().IsInvalidArgument());
  }
}

// ---------------------------------------------------------------------------------------------
// Key files

TEST(BlindRsaTest, PublicKeyRoundTripsThroughBothSpkiFormatsInDerAndPem) {
  const BlindRsaPublicKey& pub = KeyA().PublicKey();
  Result<std::array<uint8_t, 32>> id = pub.KeyId();
  ASSERT_TRUE(id.ok());
  for (SpkiFormat format : {SpkiFormat::kRsaPss, SpkiFormat::kRsaEncryption}) {
    Result<std::vector<uint8_t>> der = pub.ToDer(format);
    ASSERT_TRUE(der.ok()) << der.status().ToString();
    Result<BlindRsaPublicKey> from_der = BlindRsaPublicKey::FromDer(der->data(), der->size());
    ASSERT_TRUE(from_der.ok()) << from_der.status().ToString();
    EXPECT_EQ(from_der->Modulus(), pub.Modulus());
    EXPECT_EQ(*from_der->KeyId(), *id);

    Result<BlindRsaPublicKey> from_pem = BlindRsaPublicKey::FromPem(PemOf(pub, format));
    ASSERT_TRUE(from_pem.ok()) << from_pem.status().ToString();
    EXPECT_EQ(from_pem->Modulus(), pub.Modulus());

    // A key read back verifies what the original key's issuer signed.
    Issued issued = IssueFor(KeyA(), "token");
    EXPECT_TRUE(BlindRsaVerify(*from_pem, issued.prepared, issued.sig).ok());
  }
  EXPECT_NE(*KeyB().PublicKey().KeyId(), *id);
}

TEST(BlindRsaTest, PssSpkiNamesRsassaPssWithSha384Mgf1Sha384AndSalt48) {
  Result<std::vector<uint8_t>> der = KeyA().PublicKey().ToDer(SpkiFormat::kRsaPss);
  ASSERT_TRUE(der.ok());
  // AlgorithmIdentifier of RFC 4055: id-RSASSA-PSS, then RSASSA-PSS-params with hashAlgorithm
  // [0] sha384, maskGenAlgorithm [1] mgf1(sha384), saltLength [2] 48. Byte for byte what
  // `openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_pss_keygen_md:sha384
  // -pkeyopt rsa_pss_keygen_mgf1_md:sha384 -pkeyopt rsa_pss_keygen_saltlen:48` then
  // `openssl pkey -pubout -outform DER` writes (OpenSSL 3.0.19).
  const std::string hex = Hex(*der);
  EXPECT_EQ(hex.substr(8, 134),
            "304106092a864886f70d01010a"                                    // id-RSASSA-PSS
            "3034a00f300d06096086480165030402020500"                        // [0] sha384
            "a11c301a06092a864886f70d010108300d06096086480165030402020500"  // [1] mgf1(sha384)
            "a203020130");                                                  // [2] 48
  Result<std::vector<uint8_t>> plain = KeyA().PublicKey().ToDer(SpkiFormat::kRsaEncryption);
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(Hex(*plain).find("06092a864886f70d010101"), std::string::npos) << "rsaEncryption";
}

// The key read back signs for a client that blinded with the original public key.
void ExpectSignsFor(const BlindRsaPrivateKey& again, const BlindRsaPublicKey& original) {
  EXPECT_EQ(again.PublicKey().Modulus(), original.Modulus());
  const SecretBytes prepared = BlindRsaPrepare(SecretBytes::FromString("token"));
  Result<BlindedMessage> blinded = BlindRsaBlind(original, prepared);
  ASSERT_TRUE(blinded.ok());
  Result<std::vector<uint8_t>> blind_sig = BlindRsaBlindSign(again, blinded->blinded_msg);
  ASSERT_TRUE(blind_sig.ok());
  EXPECT_TRUE(BlindRsaFinalize(original, prepared, *blind_sig, blinded->inverse).ok());
}

TEST(BlindRsaTest, PrivateKeyRoundTripsThroughPkcs8DerAndPem) {
  const BlindRsaPrivateKey& key = KeyA();
  Result<SecretBytes> pem = key.ToPem();
  ASSERT_TRUE(pem.ok()) << pem.status().ToString();
  EXPECT_EQ(pem->view().substr(0, 27), "-----BEGIN PRIVATE KEY-----");
  Result<BlindRsaPrivateKey> from_pem = BlindRsaPrivateKey::FromPem(*pem);
  ASSERT_TRUE(from_pem.ok()) << from_pem.status().ToString();
  ExpectSignsFor(*from_pem, key.PublicKey());

  Result<SecretBytes> der = key.ToDer();
  ASSERT_TRUE(der.ok()) << der.status().ToString();
  Result<BlindRsaPrivateKey> from_der = BlindRsaPrivateKey::FromDer(*der);
  ASSERT_TRUE(from_der.ok()) << from_der.status().ToString();
  ExpectSignsFor(*from_der, key.PublicKey());
}

// PEM of a key OpenSSL made, public or private.
std::string OpenSslPem(EVP_PKEY* pkey, bool private_key) {
  BIO* bio = BIO_new(BIO_s_mem());
  const int ok = private_key
                     ? PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr)
                     : PEM_write_bio_PUBKEY(bio, pkey);
  EXPECT_EQ(ok, 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

// An RSA-PSS SubjectPublicKeyInfo for KeyA's numbers with the given restrictions (none if
// digest is null).
std::string PssPem(const char* digest, int salt_len) {
  const std::vector<uint8_t>& n_bytes = KeyA().PublicKey().Modulus();
  BIGNUM* n = BN_bin2bn(n_bytes.data(), static_cast<int>(n_bytes.size()), nullptr);
  BIGNUM* e = BN_new();
  BN_set_word(e, 65537);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  if (digest != nullptr) {
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_RSA_DIGEST, digest, 0);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_RSA_MGF1_DIGEST, digest, 0);
    OSSL_PARAM_BLD_push_int(bld, OSSL_PKEY_PARAM_RSA_PSS_SALTLEN, salt_len);
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr);
  EVP_PKEY* pkey = nullptr;
  EXPECT_EQ(EVP_PKEY_fromdata_init(ctx), 1);
  EXPECT_EQ(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
  std::string pem = OpenSslPem(pkey, false);
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return pem;
}

TEST(BlindRsaTest, PssSpkiIsAcceptedUnrestrictedOrWithThisVariantsParametersOnly) {
  EXPECT_TRUE(BlindRsaPublicKey::FromPem(PssPem(nullptr, 0)).ok());
  EXPECT_TRUE(BlindRsaPublicKey::FromPem(PssPem("SHA384", 48)).ok());
  for (const std::string& pem :
       {PssPem("SHA256", 32), PssPem("SHA384", 0), PssPem("SHA1", 20), PssPem("SHA512", 48)}) {
    Result<BlindRsaPublicKey> key = BlindRsaPublicKey::FromPem(pem);
    ASSERT_FALSE(key.ok());
    EXPECT_TRUE(key.status().IsInvalidArgument()) << key.status().ToString();
  }
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(BlindRsaTest, PublicKeyImportRejectsWhatIsNotAnIssuerKey) {
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  EVP_PKEY* small = EVP_RSA_gen(1024);
  ASSERT_NE(ec, nullptr);
  ASSERT_NE(small, nullptr);
  Result<SecretBytes> private_pem = KeyA().ToPem();
  ASSERT_TRUE(private_pem.ok());
  const std::vector<std::string> bad = {
      "",
      "not a key",
      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
      OpenSslPem(ec, false),
      OpenSslPem(small, false),
      std::string(private_pem->view()),  // a private key is not published
  };
  for (const std::string& pem : bad) {
    Result<BlindRsaPublicKey> key = BlindRsaPublicKey::FromPem(pem);
    ASSERT_FALSE(key.ok()) << pem;
    EXPECT_TRUE(key.status().IsInvalidArgument()) << key.status().ToString();
    EXPECT_EQ(ERR_peek_error(), 0u) << key.status().ToString();
  }
  EVP_PKEY_free(ec);
  EVP_PKEY_free(small);

  Result<BlindRsaPublicKey> e3 =
      BlindRsaPublicKey::FromModulusAndExponent(KeyA().PublicKey().Modulus(), {3});
  ASSERT_FALSE(e3.ok());
  EXPECT_NE(e3.status().message().find("65537"), std::string::npos) << e3.status().message();

  Result<std::vector<uint8_t>> der = KeyA().PublicKey().ToDer();
  ASSERT_TRUE(der.ok());
  der->push_back(0);
  Result<BlindRsaPublicKey> trailing = BlindRsaPublicKey::FromDer(der->data(), der->size());
  ASSERT_FALSE(trailing.ok());
  EXPECT_TRUE(trailing.status().IsInvalidArgument()) << trailing.status().ToString();
  der->pop_back();
  der->resize(der->size() / 2);
  EXPECT_TRUE(BlindRsaPublicKey::FromDer(der->data(), der->size()).status().IsInvalidArgument());
}

TEST(BlindRsaTest, PrivateKeyImportRejectsOtherKeysAndInconsistentNumbers) {
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  const std::vector<std::string> bad = {
      "",
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      OpenSslPem(ec, true),
      PemOf(KeyA().PublicKey(), SpkiFormat::kRsaEncryption),
  };
  EVP_PKEY_free(ec);
  for (const std::string& pem : bad) {
    Result<BlindRsaPrivateKey> key = BlindRsaPrivateKey::FromPem(SecretBytes::FromString(pem));
    ASSERT_FALSE(key.ok()) << pem;
    EXPECT_TRUE(key.status().IsInvalidArgument()) << key.status().ToString();
    EXPECT_EQ(ERR_peek_error(), 0u) << key.status().ToString();
  }
  // The RFC key with d changed in its last byte: OpenSSL's key check notices.
  SecretBytes d = SecretFromHex(kD);
  d[d.size() - 1] ^= 0x02;
  Result<BlindRsaPrivateKey> wrong_d = BlindRsaPrivateKey::FromComponents(
      FromHex(kN), FromHex(kE), d, SecretFromHex(kP), SecretFromHex(kQ));
  ASSERT_FALSE(wrong_d.ok());
  EXPECT_TRUE(wrong_d.status().IsInvalidArgument()) << wrong_d.status().ToString();
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(BlindRsaTest, OneKeyServesManyThreadsAtOnce) {
  // The header promises concurrent use of one key (the server verifies on many threads).
  const BlindRsaPrivateKey& key = KeyA();
  std::atomic<int> verified{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&key, &verified, t] {
      for (int i = 0; i < 5; ++i) {
        Issued issued = IssueFor(key, "token " + std::to_string(t) + "/" + std::to_string(i));
        if (BlindRsaVerify(key.PublicKey(), issued.prepared, issued.sig).ok()) ++verified;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(verified.load(), 20);
}

}  // namespace
}  // namespace safe::crypto

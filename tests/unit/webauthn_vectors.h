/* Recorded by tests/browser/record_webauthn.mjs from Chromium's
 * virtual authenticator; origin http://localhost:18080, RP ID
 * localhost, challenges 32 x 0x01 (registration), 0x02, 0x03. */

#define VEC_ES256_ID \
    "iH8vwcNZygSGpO4QnIQLwC8CtKXx6agMDp1_xd0befM"
#define VEC_ES256_ATT \
    "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVikSZYN5YgOjGh0NBcPZHZgW4_k" \
    "rrmihjLHmVzzuoMdl2NFAAAAAQECAwQFBgcIAQIDBAUGBwgAIIh_L8HDWcoEhqTu" \
    "EJyEC8AvArSl8emoDA6df8XdG3nzpQECAyYgASFYILF67HvVlJwJiitWDyPT0jbf" \
    "eMkFetCV9uoJSN8xPzEEIlggeyWNzUUn7vGcq5E98UWq_VK3EZpumrP2rlq6nvJ7" \
    "DWQ"
#define VEC_ES256_REG_CDJ \
    "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQVFFQkFRRUJB" \
    "UUVCQVFFQkFRRUJBUUVCQVFFQkFRRUJBUUVCQVFFQkFRRSIsIm9yaWdpbiI6Imh0" \
    "dHA6Ly9sb2NhbGhvc3Q6MTgwODAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9"
#define VEC_ES256_TRANSPORTS \
    "internal"
#define VEC_ES256_A1_AD \
    "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAg"
#define VEC_ES256_A1_CDJ \
    "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQWdJQ0FnSUNBZ0lD" \
    "QWdJQ0FnSUNBZ0lDQWdJQ0FnSUNBZ0lDQWdJQ0FnSSIsIm9yaWdpbiI6Imh0dHA6" \
    "Ly9sb2NhbGhvc3Q6MTgwODAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9"
#define VEC_ES256_A1_SIG \
    "MEUCICvR1Bg5BgnPCGiBu9RW2B45cjPVp0sFg4Nt_bZN0nU3AiEAxPtnLX1dNij5" \
    "O7IY3CzHxbExTJ2Zed_epbsnNK1gFuI"
#define VEC_ES256_A1_UH \
    "BwcHBwcHBwcHBwcHBwcHBw"
#define VEC_ES256_A2_AD \
    "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAw"
#define VEC_ES256_A2_CDJ \
    "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQXdNREF3TURBd01E" \
    "QXdNREF3TURBd01EQXdNREF3TURBd01EQXdNREF3TSIsIm9yaWdpbiI6Imh0dHA6" \
    "Ly9sb2NhbGhvc3Q6MTgwODAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9"
#define VEC_ES256_A2_SIG \
    "MEUCIQCnfKhpL8m6ZOJ5fGiZDPUsLjIUzlFdg8lj6jQsAjTvIAIgJG87rurkQ1c5" \
    "ciIx16jOliwXn8pm6Mx3KcBPM5Db6h4"
#define VEC_ES256_A2_UH \
    "BwcHBwcHBwcHBwcHBwcHBw"

#define VEC_EDDSA_ID \
    "4xwuHSKq5ZS8PZBz8yjRJubO5gLGyuJ5s7KNJjQiGoE"
#define VEC_EDDSA_ATT \
    "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YViBSZYN5YgOjGh0NBcPZHZgW4_k" \
    "rrmihjLHmVzzuoMdl2NFAAAAAQECAwQFBgcIAQIDBAUGBwgAIOMcLh0iquWUvD2Q" \
    "c_Mo0SbmzuYCxsriebOyjSY0IhqBpAEBAycgBiFYIFIz8TO3DY4Xc1i1jw_U_TpF" \
    "15MqDyml-ENThE9_JauL"
#define VEC_EDDSA_REG_CDJ \
    "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQVFFQkFRRUJB" \
    "UUVCQVFFQkFRRUJBUUVCQVFFQkFRRUJBUUVCQVFFQkFRRSIsIm9yaWdpbiI6Imh0" \
    "dHA6Ly9sb2NhbGhvc3Q6MTgwODAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9"
#define VEC_EDDSA_TRANSPORTS \
    "internal"
#define VEC_EDDSA_A1_AD \
    "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAg"
#define VEC_EDDSA_A1_CDJ \
    "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQWdJQ0FnSUNBZ0lD" \
    "QWdJQ0FnSUNBZ0lDQWdJQ0FnSUNBZ0lDQWdJQ0FnSSIsIm9yaWdpbiI6Imh0dHA6" \
    "Ly9sb2NhbGhvc3Q6MTgwODAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9"
#define VEC_EDDSA_A1_SIG \
    "kAAxQwJ3Ij4C8lF4UwqJ8baJ3yyGg9iapa3BLB7nnOUcnBwND2XNvDm16CAN-Y3R" \
    "Kr4JU8HciSqj6RkBgSHjBA"
#define VEC_EDDSA_A1_UH \
    "BwcHBwcHBwcHBwcHBwcHBw"
#define VEC_EDDSA_A2_AD \
    "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAw"
#define VEC_EDDSA_A2_CDJ \
    "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQXdNREF3TURBd01E" \
    "QXdNREF3TURBd01EQXdNREF3TURBd01EQXdNREF3TSIsIm9yaWdpbiI6Imh0dHA6" \
    "Ly9sb2NhbGhvc3Q6MTgwODAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9"
#define VEC_EDDSA_A2_SIG \
    "FkLTee5vNBLIDl_rl9ewNIzX2Nqm7QAlPVkvIeKdA9GOL3MTNUUmd3Emw9j2ZQwa" \
    "wqtEkh9t0AvohIPXQ3cuAA"
#define VEC_EDDSA_A2_UH \
    "BwcHBwcHBwcHBwcHBwcHBw"

#define VEC_RS256_ID \
    "_w-TDZZhhyKep6b8V43SAM1KC4ByY2hsOIMp8pg3yNw"
#define VEC_RS256_ATT \
    "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVkBZ0mWDeWIDoxodDQXD2R2YFuP" \
    "5K65ooYyx5lc87qDHZdjRQAAAAEBAgMEBQYHCAECAwQFBgcIACD_D5MNlmGHIp6n" \
    "pvxXjdIAzUoLgHJjaGw4gynymDfI3KQBAwM5AQAgWQEAvqFDkCKlFTeEobEZGyS9" \
    "aJf9J0mieM3hotQTPQvrd7TN8DKXDmzcg1uz6ICWo0eLtU7_fcLD5_UkkL4E2yyQ" \
    "mGVnBNXClLqJrFrd2TuckQt__YC1TJ0C0QwjvIPe7m-BLok-rLmu3moZh9oV5qtz" \
    "kobp0SHHFkV3CxdWzWNYp_6B3mLMT5mX0B-EPX6eNLta7u7e0jJQKUlkJtLadKd-" \
    "CB88JUzdNoVXpgCmLJ6iuSGVVQKYplCLZKrgPc0oK5BPJHa-SYvdXOm93KuGBa1q" \
    "PW737ehX8FgMyHa_9Ha_mLeZ9c1fPt-y8K0lvxwOBH6uLmxevu4UE3dBigmhJwIY" \
    "MyFDAQAB"
#define VEC_RS256_REG_CDJ \
    "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQVFFQkFRRUJB" \
    "UUVCQVFFQkFRRUJBUUVCQVFFQkFRRUJBUUVCQVFFQkFRRSIsIm9yaWdpbiI6Imh0" \
    "dHA6Ly9sb2NhbGhvc3Q6MTgwODAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9"
#define VEC_RS256_TRANSPORTS \
    "internal"
#define VEC_RS256_A1_AD \
    "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAg"
#define VEC_RS256_A1_CDJ \
    "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQWdJQ0FnSUNBZ0lD" \
    "QWdJQ0FnSUNBZ0lDQWdJQ0FnSUNBZ0lDQWdJQ0FnSSIsIm9yaWdpbiI6Imh0dHA6" \
    "Ly9sb2NhbGhvc3Q6MTgwODAiLCJjcm9zc09yaWdpbiI6ZmFsc2UsIm90aGVyX2tl" \
    "eXNfY2FuX2JlX2FkZGVkX2hlcmUiOiJkbyBub3QgY29tcGFyZSBjbGllbnREYXRh" \
    "SlNPTiBhZ2FpbnN0IGEgdGVtcGxhdGUuIFNlZSBodHRwczovL2dvby5nbC95YWJQ" \
    "ZXgifQ"
#define VEC_RS256_A1_SIG \
    "K8t53-o2uHxCWrbCKq9uXAR_KOffGsiaNDbeVlj8UUxVmcIMiZ0KS8wgWF38RbqG" \
    "9OqSRBU0Yq6ZeBUCWnAI6iMEvRexOEIyAr3l9PLjLYP2VHS3hOMCeDa1Yx1_EsUM" \
    "JuY6fbQAb3T7cFMPCbfhhnyXIuyxu12l5JFpo09PlWlgDIyHWSD7mczkEzlRIIS1" \
    "YCZ8naiCRJjsr94WWiAEnlIimIXflXJod-NTAVuw5LssEGIqVZbDJ7_OSCJ2nsKh" \
    "G3FR92_brtkrPFwCnkI6nP5G_YJVmuKc0_7Pl0VIFBq6cRvQIDz2xQd9aK4ClFSv" \
    "tM3YCYtrwqdxCTVSpvGg3A"
#define VEC_RS256_A1_UH \
    "BwcHBwcHBwcHBwcHBwcHBw"
#define VEC_RS256_A2_AD \
    "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAw"
#define VEC_RS256_A2_CDJ \
    "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQXdNREF3TURBd01E" \
    "QXdNREF3TURBd01EQXdNREF3TURBd01EQXdNREF3TSIsIm9yaWdpbiI6Imh0dHA6" \
    "Ly9sb2NhbGhvc3Q6MTgwODAiLCJjcm9zc09yaWdpbiI6ZmFsc2UsIm90aGVyX2tl" \
    "eXNfY2FuX2JlX2FkZGVkX2hlcmUiOiJkbyBub3QgY29tcGFyZSBjbGllbnREYXRh" \
    "SlNPTiBhZ2FpbnN0IGEgdGVtcGxhdGUuIFNlZSBodHRwczovL2dvby5nbC95YWJQ" \
    "ZXgifQ"
#define VEC_RS256_A2_SIG \
    "iujiHvg-K8JhGBxK7czOXyRKkQca79VZx6ajxKhzVBg6lhhcxea2rtrkkH-2AD23" \
    "ZKqGrSZet36cRa9tOtXLIRFsupHe4DK_qzsjFcLTnrXGCjvhD_G2LrdYoqLCPfTN" \
    "9HnUmx-uGSt0YTgR6EcmociQ_vaxZke0W8ICUAZxBMjIzqXZcsa0JBt_kV_we39P" \
    "SpCza0s-1-qXdEmm7lB984ywqnC27lVP7pJEKnVHv2xRXumfHHntd9T4eGfXJ7_R" \
    "emvC_0juPGlnydpRd6Yc5jaQ_zd1AERYZSkA_qpRgBsvdnxi9PxtYpr-hYatQyZC" \
    "D59Qo_8qLVpX1oaZpbjaNA"
#define VEC_RS256_A2_UH \
    "BwcHBwcHBwcHBwcHBwcHBw"


# Builds libauthcore, guichetctl and the C unit tests. The nginx module is
# built by build.sh with nginx's own build system (ngx_module/config).
#
#   make                 build/libauthcore.a build/guichetctl, unit tests
#   make SANITIZE=1      the same with ASan + UBSan, under build/asan/
#   make fuzz            libFuzzer targets of tests/fuzz under build/fuzz/,
#                        authcore built with clang, ASan and UBSan

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD   ?= build/asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
else
BUILD   ?= build
SANFLAGS =
endif

CC      ?= cc
WARN     = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 \
           -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -fPIC -fstack-protector-strong \
           -D_FORTIFY_SOURCE=2 $(WARN) $(SANFLAGS) -Iauthcore/include
LDFLAGS += $(SANFLAGS) -Wl,-z,relro -Wl,-z,now
LIBS     = -lhiredis -loath -ljwt -ljansson -lssl -lcrypto -largon2 \
           -lqrencode -lfido2 -lcbor
# only guichetctl talks SMTP (its mail worker); the module never links it
CTL_LIBS = -lcurl

AC_HDR   = authcore/include/authcore.h \
           $(wildcard authcore/include/authcore/*.h)
AC_SRC   = $(sort $(wildcard authcore/src/*.c))
AC_OBJ   = $(AC_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  = $(sort $(wildcard cli/*.c))
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
UT_SRC   = $(sort $(wildcard tests/unit/test_*.c))
UT_BIN   = $(UT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

all: $(BUILD)/libauthcore.a $(BUILD)/guichetctl $(UT_BIN)

$(BUILD)/%.o: %.c $(AC_HDR) $(wildcard authcore/src/*.h) \
              $(wildcard cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iauthcore/src -c -o $@ $<

$(BUILD)/libauthcore.a: $(AC_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/guichetctl: $(CLI_OBJ) $(BUILD)/libauthcore.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libauthcore.a $(LIBS) \
	    $(CTL_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libauthcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iauthcore/src -Itests/unit $(LDFLAGS) -o $@ $< \
	    $(BUILD)/libauthcore.a $(LIBS)

# Fuzzing: clang only (libFuzzer), authcore built again with the same
# sanitizers so that an overflow or UB inside it stops the run.
FUZZ_CC     ?= clang
FUZZ_DIR     = build/fuzz
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer
FUZZ_CFLAGS  = -O1 -g -std=c11 -D_GNU_SOURCE $(WARN) $(FUZZ_SAN) \
               -Iauthcore/include -Iauthcore/src
FUZZ_SRC     = $(sort $(wildcard tests/fuzz/*.c))
FUZZ_BIN     = $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_AC_OBJ  = $(AC_SRC:%.c=$(FUZZ_DIR)/%.o)

fuzz: $(FUZZ_BIN)

$(FUZZ_DIR)/authcore/%.o: authcore/%.c $(AC_HDR) \
                          $(wildcard authcore/src/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/libauthcore.a: $(FUZZ_AC_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_DIR)/libauthcore.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_DIR)/libauthcore.a $(LIBS)

unit: all
	@for t in $(UT_BIN); do $$t || exit 1; done

clean:
	rm -rf build

.PHONY: all unit fuzz clean

# Warnings are errors everywhere in the project's own code.
add_compile_options(
  -Wall -Wextra -Werror -Wpedantic
  -Wshadow -Wformat=2 -Wconversion -Wno-sign-conversion
  -Wstrict-prototypes -Wmissing-prototypes -Wcast-qual
  -Wvla -Wimplicit-fallthrough -Wundef -Wnull-dereference
  -fno-common -fstack-protector-strong)
# _FORTIFY_SOURCE needs optimisation; the sanitizer build runs at -O1.
add_compile_definitions(_GNU_SOURCE $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)

if(TV_SANITIZE)
  # -fno-sanitize-recover=all: every finding ends the test with an error.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -O1 -g)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()

if(TV_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TV_FUZZ needs clang: cmake -DCMAKE_C_COMPILER=clang")
  endif()
  # -fno-sanitize-recover: a UBSan finding aborts the target like an ASan
  # one, so libFuzzer reports a crash and the run fails; without it UBSan
  # prints a line and fuzzing carries on green.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -g)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()

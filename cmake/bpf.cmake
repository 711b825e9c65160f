# xdpban_bpf_object(NAME): compiles bpf/NAME.bpf.c with clang -target bpf and
# generates NAME.skel.h with `bpftool gen skeleton`. Rebuilt when the ABI
# header or any BPF helper header changes. Provides the interface target
# NAME_skel (include directory of the skeleton).
find_program(CLANG_BPF clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch OUTPUT_VARIABLE XDPBAN_MULTIARCH
                OUTPUT_STRIP_TRAILING_WHITESPACE)

set(XDPBAN_BPF_DEPS
    ${PROJECT_SOURCE_DIR}/include/xdpban/abi.h
    ${PROJECT_SOURCE_DIR}/bpf/parse.bpf.h
    ${PROJECT_SOURCE_DIR}/bpf/classify.bpf.h
    ${PROJECT_SOURCE_DIR}/bpf/flood.bpf.h)

function(xdpban_bpf_object name)
  set(src ${PROJECT_SOURCE_DIR}/bpf/${name}.bpf.c)
  set(out ${CMAKE_CURRENT_BINARY_DIR})
  add_custom_command(
    OUTPUT ${out}/${name}.bpf.o
    COMMAND ${CLANG_BPF} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Werror
            -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/bpf
            -idirafter /usr/include/${XDPBAN_MULTIARCH}
            -c ${src} -o ${out}/${name}.bpf.o
    DEPENDS ${src} ${XDPBAN_BPF_DEPS}
    COMMENT "BPF ${name}.bpf.c"
    VERBATIM)
  add_custom_command(
    OUTPUT ${out}/${name}.skel.h
    COMMAND ${BPFTOOL} gen skeleton ${out}/${name}.bpf.o name ${name}_bpf > ${out}/${name}.skel.h
    DEPENDS ${out}/${name}.bpf.o
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${out}/${name}.skel.h)
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out})
endfunction()

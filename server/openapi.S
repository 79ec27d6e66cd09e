/* openapi.S -- embeds the repository's openapi.yaml into the binary, so
 * GET /openapi.yaml serves exactly the file that is reviewed and tested,
 * with no install step and no path to find at run time. The path is
 * relative to the repository root, where make runs the assembler. */
    .section .rodata
    .global up_openapi_yaml
    .global up_openapi_yaml_end
    .balign 16
up_openapi_yaml:
    .incbin "openapi.yaml"
up_openapi_yaml_end:
    .byte 0

    .section .note.GNU-stack,"",@progbits

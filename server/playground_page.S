/* playground_page.S -- embeds server/playground.html into the binary, so
 * GET / serves the page that is reviewed and tested, with no install step
 * and no file to find at run time (as openapi.S does for the spec). Not
 * named playground.S: its object would collide with playground.c's (both
 * build/server/playground.o). The path is relative to the repository
 * root, where make runs the assembler. */
    .section .rodata
    .global up_playground_html
    .global up_playground_html_end
    .balign 16
up_playground_html:
    .incbin "server/playground.html"
up_playground_html_end:
    .byte 0

    .section .note.GNU-stack,"",@progbits

/* playground.h -- GET /: the playground page (playground.c). */
#ifndef UP_SRV_PLAYGROUND_H
#define UP_SRV_PLAYGROUND_H

#include <microhttpd.h>

#include "request.h"

/* server/playground.html, embedded at build time (playground_page.S). */
extern const char up_playground_html[];
extern const char up_playground_html_end[];

/* Queue the page with its Content-Security-Policy (MHD thread). */
enum MHD_Result up_playground_send(up_req *r);

#endif

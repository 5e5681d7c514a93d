/*
 * The citizen's page (served at "/"): sign-in, agreements in plain
 * language, grant and revoke, receipts, "who used my data". Server-rendered
 * HTML with no script, under a strict Content-Security-Policy.
 */
#ifndef CB_WEB_H
#define CB_WEB_H

#include <event2/buffer.h>

struct rq;

/* HTML-escapes s into b. */
void web_escape(struct evbuffer *b, const char *s);

/* The page head and the start of <main>; mi is a te reo Māori heading
 * shown beside title (may be NULL). */
void web_page_begin(struct evbuffer *b, const char *title, const char *mi);
void web_page_end(struct evbuffer *b);

/* Sends page b (freed) with the security headers; ends rq. */
void web_reply_page(struct rq *rq, int status, struct evbuffer *b);

/* An error page; ends rq. */
void web_error_page(struct rq *rq, int status, const char *title,
    const char *detail);

/* 303 See Other to location; ends rq. */
void web_redirect(struct rq *rq, const char *location);

/* Routes "/", "/login", "/callback", "/logout", "/ui/...", "/static/...".
 * Returns 0 when it handled rq, -1 when the path is not the page's. */
int web_route(struct rq *rq);

#endif

/*  control_client.h — what every client of ezshmd's control and events sockets shares
    (ezshm-ctl, ezshm-web): CURVE set up the way the daemon expects it. */
#ifndef EZSHM_CONTROL_CLIENT_H
#define EZSHM_CONTROL_CLIENT_H

#include <stddef.h>
#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Makes sock a CURVE client: the certificate client_cert (the file and its _secret) and
    ezshmd's public key server_key (40 Z85 characters, or a certificate file holding it).
    Returns 0, or -1 with one line in err (unreadable certificate, not a key). */
int control_client_curve(zsock_t *sock, const char *client_cert, const char *server_key, char *err,
                         size_t errlen);

#ifdef __cplusplus
}
#endif
#endif

/*  control_client.c — see control_client.h. */
#include "control_client.h"
#include "ezshm.h"

#include <string.h>

int
control_client_curve(zsock_t *sock, const char *client_cert, const char *server_key, char *err, size_t errlen)
{
    zcert_t *client = zcert_load(client_cert);
    if (!client)
        return ezshm_fail(err, errlen, -1, "cannot load --curve-client %s", client_cert);
    zcert_apply(client, sock);
    zcert_destroy(&client);
    if (strlen(server_key) == 40 && !zsys_file_exists(server_key)) {
        zsock_set_curve_serverkey(sock, server_key);
        return 0;
    }
    zcert_t *server = zcert_load(server_key);
    if (!server)
        return ezshm_fail(err, errlen, -1, "--curve-server %s is neither a key nor a certificate", server_key);
    zsock_set_curve_serverkey(sock, zcert_public_txt(server));
    zcert_destroy(&server);
    return 0;
}

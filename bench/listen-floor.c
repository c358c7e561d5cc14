/*
 * The least a SIP responder can cost on this machine, for bench/listen.sh: answers SIPp's
 * `-sn uac` calls (INVITE -> 180 + 200 with SDP, BYE -> 200, ACK -> nothing) by copying the
 * Via, From, To, Call-ID and CSeq lines of each request, with no parsing beyond that, no
 * transaction state and no retransmissions. It blocks in recvmmsg(2) and answers a whole
 * batch with one sendmmsg(2). Not a SIP implementation: only a yardstick for the kernel's
 * share of the CPU per call, which every responder pays.
 *
 *   cc -O2 -o listen-floor bench/listen-floor.c && ./listen-floor PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define BATCH 16
#define DATAGRAM 65536
#define OUT 4096

/* Append the header line `name: ...\r\n` of message m (len bytes) to out; returns its length. */
static int copy_header(const char *m, int len, const char *name, char *out, int room) {
    const char *p = m, *end = m + len;
    size_t n = strlen(name);
    while (p < end) {
        const char *eol = memmem(p, end - p, "\r\n", 2);
        if (!eol || eol == p) return 0;
        if ((size_t)(eol - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            int l = eol - p + 2;
            if (l >= room) return 0;
            memcpy(out, p, l);
            return l;
        }
        p = eol + 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a)) {
        perror("bind");
        return 1;
    }
    static char in[BATCH][DATAGRAM], out[2 * BATCH][OUT];
    static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                              "t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    struct iovec iov[BATCH], oiov[2 * BATCH];
    struct sockaddr_in from[BATCH];
    struct mmsghdr msgs[BATCH], omsgs[2 * BATCH];
    for (;;) {
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){in[i], DATAGRAM};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        int n = recvmmsg(s, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0) continue;
        int k = 0;
        for (int i = 0; i < n; i++) {
            const char *m = in[i];
            int len = msgs[i].msg_len;
            if (len < 7 || memcmp(m, "ACK ", 4) == 0) continue;
            int invite = memcmp(m, "INVITE ", 7) == 0;
            char h[OUT / 2];
            int l = 0, to;
            l += copy_header(m, len, "Via", h + l, sizeof h - l);
            l += copy_header(m, len, "From", h + l, sizeof h - l);
            to = copy_header(m, len, "To", h + l, sizeof h - l - 16);
            if (to > 2) l += to - 2 + sprintf(h + l + to - 2, ";tag=floor\r\n");
            l += copy_header(m, len, "Call-ID", h + l, sizeof h - l);
            l += copy_header(m, len, "CSeq", h + l, sizeof h - l);
            h[l] = 0;
            int first = k;
            if (invite) {
                oiov[k].iov_len = snprintf(out[k], OUT, "SIP/2.0 180 Ringing\r\n%sContent-Length: 0\r\n\r\n", h);
                k++;
                oiov[k].iov_len = snprintf(out[k], OUT,
                    "SIP/2.0 200 OK\r\n%sContact: <sip:floor@127.0.0.1:%s>\r\n"
                    "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
                    h, argv[1], sizeof sdp - 1, sdp);
                k++;
            } else {
                oiov[k].iov_len = snprintf(out[k], OUT, "SIP/2.0 200 OK\r\n%sContent-Length: 0\r\n\r\n", h);
                k++;
            }
            for (int j = first; j < k; j++) {
                oiov[j].iov_base = out[j];
                if (oiov[j].iov_len >= OUT) oiov[j].iov_len = OUT - 1;
                memset(&omsgs[j], 0, sizeof omsgs[j]);
                omsgs[j].msg_hdr.msg_iov = &oiov[j];
                omsgs[j].msg_hdr.msg_iovlen = 1;
                omsgs[j].msg_hdr.msg_name = &from[i];
                omsgs[j].msg_hdr.msg_namelen = sizeof from[i];
            }
        }
        if (k) sendmmsg(s, omsgs, k, 0);
    }
}


use builtin;
use str;

set edit:completion:arg-completer[sipkit] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'sipkit'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'sipkit'= {
            cand --format 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)'
            cand --color 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR'
            cand -q 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand --quiet 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand -v 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand --verbose 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand validate 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code'
            cand send 'Send one SIP request and report what came back (OPTIONS unless METHOD is given)'
            cand decode-pcap 'List the SIP and MSRP messages in a packet capture, group them into calls, draw call flows, count them, extract MSRP files'
            cand listen 'Answer SIP requests as a user agent server, printing each message as it comes'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sipkit;validate'= {
            cand --kind 'Treat every input as this kind instead of detecting it from the first line (`MSRP ` starts an MSRP message, `v=` or `m=` an SDP body, anything else is SIP)'
            cand --format 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)'
            cand --color 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR'
            cand --strict 'Treat warnings as errors'
            cand -q 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand --quiet 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand -v 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand --verbose 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'sipkit;send'= {
            cand --uri 'Request-URI (default: the target as a SIP URI; the domain for REGISTER)'
            cand --from 'From header value (default: `<sip:USER@DOMAIN>` with --user, else `<sip:sipkit@LOCAL_IP>`)'
            cand --to 'To header value (default: the Request-URI; for REGISTER the From address)'
            cand --contact 'Contact header value (default: `<sip:USER@LOCAL_IP:LOCAL_PORT;transport=...>` from the socket''s real address; never added to MESSAGE, RFC 3428 §4)'
            cand --call-id 'Call-ID (default: random)'
            cand --cseq 'CSeq number of the first request (default 1); an authenticated retry uses the next one'
            cand --expires 'Expires header in seconds (REGISTER default 3600)'
            cand --max-forwards 'Max-Forwards (default 70)'
            cand --user-agent 'User-Agent header value (default `sipkit/VERSION`)'
            cand -H 'Add a header field, `-H ''Name: value''`; repeat for more'
            cand --header 'Add a header field, `-H ''Name: value''`; repeat for more'
            cand --body 'The body, as given'
            cand --body-file 'Read the body from FILE (`-` for standard input)'
            cand --content-type 'Content-Type of the body (default application/sdp for INVITE, else text/plain)'
            cand --text 'Send a MESSAGE (RFC 3428) with this text/plain body; METHOD may be omitted'
            cand --message 'Send this whole message written by hand (`-` for standard input). `${name}` is replaced by call_id, branch, from_tag, local_ip, local_port, transport, cseq, target, or a --set variable; an unknown name is an error. Content-Length is fixed up unless --raw'
            cand --set 'Define `${NAME}` for --message, `--set NAME=VALUE`; repeat for more'
            cand --count 'Load mode: send this many requests in all, each a new call (new Call-ID), to the first destination, and report status counts and latency percentiles instead of each message'
            cand --rate 'Load mode: start at most this many requests per second (default: as fast as answers come)'
            cand --concurrency 'Load mode: keep at most this many requests in flight, each on its own socket (default 1)'
            cand --expect 'Exit 0 only if the final status is one of these (`200,404`, classes like `2xx`)'
            cand -u 'User name for Digest authentication (and the From/To user for REGISTER)'
            cand --user 'User name for Digest authentication (and the From/To user for REGISTER)'
            cand --password-file 'Read the password from the first line of FILE. SIPKIT_PASSWORD works too'
            cand --password 'The password on the command line (visible to other users of this machine: prefer --password-file or SIPKIT_PASSWORD)'
            cand --ha1 'HA1 = H(user:realm:password) in hex instead of a password (32 digits for MD5, 64 for SHA-256 and SHA-512-256)'
            cand --auth-alg 'Answer only challenges with this algorithm (default: the strongest offered)'
            cand --bind 'Local address to send from (`IP` or `IP:PORT`)'
            cand --dns-server 'DNS server to ask instead of the system''s (`IP` or `IP:PORT`)'
            cand --ca-file 'Trust the CA certificates in this PEM file too (TLS, WSS)'
            cand --cert 'Client certificate chain (PEM) for TLS; needs --key'
            cand --key 'Private key (PEM) for --cert'
            cand --t1 'Timer T1, the round-trip estimate (default 500ms); retransmissions start at T1 and the transaction gives up after 64*T1'
            cand --t2 'Timer T2, the longest retransmission interval (default 4s)'
            cand --t4 'Timer T4, how long a message may linger in the network (default 5s)'
            cand --timeout 'Give up after this long in all, whatever the transaction timers say (`10s`, `500ms`)'
            cand --format 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)'
            cand --color 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR'
            cand --unregister 'REGISTER only: remove every binding (`Contact: *` with `Expires: 0`, RFC 3261 §10.2.2)'
            cand --raw 'With --message: send the bytes exactly as written after substitution (no Content-Length fix-up, no line-end repair)'
            cand --traceroute 'Walk the path: send with Max-Forwards 0, 1, 2... (up to --max-forwards, default 70) and list each hop''s 483 Too Many Hops until another response ends the walk'
            cand --dry-run 'Print the request that would be sent, without using the network'
            cand --resolve-only 'Only locate the server (RFC 3263) and print the destinations; send nothing'
            cand --insecure 'Accept any server certificate (TLS, WSS). For testing only'
            cand -q 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand --quiet 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand -v 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand --verbose 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'sipkit;decode-pcap'= {
            cand --flow 'Draw a ladder diagram of each call, or only of the call with this Call-ID (`--flow=CALL-ID`)'
            cand --extract 'Write every reassembled MSRP message or file into DIR (which must exist), named from its SDP file-selector when known; existing files are never overwritten'
            cand --write 'Write the packets that carried the matching messages to a new pcap file'
            cand --call-id 'Keep only messages with this Call-ID (MSRP: of the call whose SDP set up the session)'
            cand --method 'Keep only requests with this method, or responses to it (by CSeq), e.g. `INVITE,BYE`'
            cand --status 'Keep only responses with this status: a code (`486`) or a class (`4xx`)'
            cand --host 'Keep only messages from or to this address: `IP`, `IP:PORT` or `[IPv6]:PORT`'
            cand --grep 'Keep only messages whose text (start line, header fields, body) matches this regular expression'
            cand --transport 'Keep only messages carried over this transport'
            cand --max-stream-buffer 'Most bytes buffered per TCP stream direction while waiting for the end of a message; a message larger than this is dropped and reported. Accepts K, M and G suffixes'
            cand --format 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)'
            cand --color 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR'
            cand --full 'Print each message whole (start line, header fields, body) after its summary line'
            cand --calls 'Print one row per call (INVITE dialog) instead of one per message: start, from, to, state, setup times, duration, message count'
            cand --stats 'Print counts per method and response code, retransmissions, calls attempted, answered and failed, answer-seizure ratio and setup times, instead of the messages'
            cand -q 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand --quiet 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand -v 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand --verbose 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'sipkit;listen'= {
            cand --udp 'Listen for UDP on ADDR (`IP:PORT`, `[IPv6]:PORT`, or `IP` for port 5060); repeatable'
            cand --tcp 'Listen for TCP on ADDR; repeatable'
            cand --tls 'Listen for TLS on ADDR (port 5061 when omitted); needs --cert and --key'
            cand --ws 'Listen for SIP over WebSocket (RFC 7118) on ADDR (port 80 when omitted)'
            cand --wss 'Listen for SIP over secure WebSocket on ADDR (port 443 when omitted); needs --cert and --key'
            cand --cert 'Server certificate chain (PEM, leaf first) for --tls and --wss'
            cand --key 'Private key (PEM) for --cert'
            cand --msrp 'Our MSRP address, put in the a=path of MSRP answers (`IP:PORT`, or `IP` for port 2855; default: the first listening IP, port 2855). Without --msrp, a busy port 2855 only disables MSRP; with it, listen fails'
            cand --accept-types 'Media types accepted in MSRP sessions, comma-separated (`text/plain,image/*`; default `*`). The answer''s a=accept-types is what the offer and this list have in common; other types get 415'
            cand --max-size 'Largest MSRP message accepted, in bytes (a=max-size; larger ones get 413; default 1 GiB)'
            cand --save-dir 'Keep received MSRP files in DIR (created if missing), named from the offer''s a=file-selector name or else the Message-ID; an existing file is never overwritten. Without it, content is hashed and dropped'
            cand --reply 'Answer METHOD with CODE instead of the default, `INVITE=486` or `MESSAGE=403:Go away`; repeatable. CODE is a final status (200-699)'
            cand --ring 'Ring this long (180 Ringing) before answering an INVITE (`3s`, `500ms`)'
            cand -H 'Add a header field to every response, `-H ''Name: value''`; repeatable'
            cand --header 'Add a header field to every response, `-H ''Name: value''`; repeatable'
            cand --auth 'Challenge every request (but ACK and CANCEL) with Digest for this `user:password` (401 for REGISTER, 407 otherwise; wrong credentials get 403); repeatable'
            cand --auth-file 'Read `user:password` lines from FILE (blank lines and `#` comments skipped)'
            cand --auth-alg 'The algorithms to challenge with, one challenge each, in this order (default: SHA-256,MD5)'
            cand --realm 'The Digest realm (default `sipkit`)'
            cand --nonce-lifetime 'How long a nonce is accepted; an older one is challenged again with stale=true (default 5 minutes)'
            cand --write-pcap 'Write every SIP and MSRP message sent and received to FILE as a pcapng capture, with IP/UDP/TCP headers synthesised (TLS and WebSocket messages appear as plain TCP)'
            cand --count 'Exit after answering N requests (ACK, CANCEL and retransmissions do not count)'
            cand --msrp-count 'Exit after receiving N whole MSRP messages'
            cand --timeout 'Stop after this long (`30s`); with --count or --msrp-count still unmet, exit 3'
            cand --format 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)'
            cand --color 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR'
            cand --msrps 'Take MSRP over TLS (`TCP/TLS/MSRP`, `msrps:` URIs) with --cert and --key, instead of TCP'
            cand --registrar 'Keep REGISTER bindings in memory (with expiry) and list them in the 200 OK; requests to a registered address of record are reported as such'
            cand --full 'Print each message whole, not only its first line'
            cand -q 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand --quiet 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand -v 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand --verbose 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'sipkit;help'= {
            cand validate 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code'
            cand send 'Send one SIP request and report what came back (OPTIONS unless METHOD is given)'
            cand decode-pcap 'List the SIP and MSRP messages in a packet capture, group them into calls, draw call flows, count them, extract MSRP files'
            cand listen 'Answer SIP requests as a user agent server, printing each message as it comes'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sipkit;help;validate'= {
        }
        &'sipkit;help;send'= {
        }
        &'sipkit;help;decode-pcap'= {
        }
        &'sipkit;help;listen'= {
        }
        &'sipkit;help;help'= {
        }
    ]
    $completions[$command]
}

#!/usr/bin/python3
"""Writes the seed corpus for fuzz_wire into tests/fuzz/corpus/.

The seeds are the shapes of packets a resolver really sees: dig/kdig-style
queries (EDNS, cookies, ECS, padding, keepalive, 0x20 case), referrals with
glue and DS, signed answers (real ECDSA P-256 signatures made here with a
throw-away key), NSEC3 denials, CNAME chains, truncated and EDE-carrying
responses, NOTIFY. dnspython compresses names the way servers do.

Run with Debian's python (it has dnspython): /usr/bin/python3 make_corpus.py
"""
import hashlib
import os
import sys
import time

import dns.dnssec
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from cryptography.hazmat.primitives.asymmetric import ec

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
NOW = 1767225600  # fixed, so the corpus is reproducible apart from signatures

seeds = {}


def put(name, wire):
    assert len(wire) <= 4096, name
    seeds[name] = wire


def rrset(owner, ttl, rdtype, *texts):
    return dns.rrset.from_text(owner, ttl, "IN", rdtype, *texts)


def cookie(client, server=b""):
    return dns.edns.GenericOption(dns.edns.OptionType.COOKIE, client + server)


def query(qname, qtype, *, edns=True, do=False, options=(), payload=1232, flags=dns.flags.RD | dns.flags.AD,
          qid=0x1234):
    q = dns.message.make_query(qname, qtype, use_edns=0 if edns else None, want_dnssec=do,
                               payload=payload, options=list(options))
    q.id = qid
    q.flags = flags
    return q


# --- queries -----------------------------------------------------------------
put("query_a_plain", query("www.example.com.", "A", edns=False).to_wire())
put("query_aaaa_dig", query("www.example.com.", "AAAA", options=[cookie(bytes(range(1, 9)))]).to_wire())
put("query_do_cookie_server", query("example.org.", "DNSKEY", do=True,
                                    options=[cookie(b"\x11" * 8, b"\x22" * 16)]).to_wire())
put("query_0x20", query("wWw.ExAmPlE.cOm.", "A", do=True).to_wire())
put("query_ecs_v4", query("cdn.example.net.", "A", options=[
    dns.edns.ECSOption("198.51.100.0", 24)]).to_wire())
put("query_ecs_v6", query("cdn.example.net.", "AAAA", options=[
    dns.edns.ECSOption("2001:db8:1234::", 48)]).to_wire())
put("query_padding", query("secret.example.", "TXT", options=[
    dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 100)]).to_wire())
put("query_keepalive", query("example.", "SOA", options=[
    dns.edns.GenericOption(dns.edns.OptionType.KEEPALIVE, b"")]).to_wire())
put("query_many_options", query("x.example.", "HTTPS", do=True, options=[
    cookie(b"\x01" * 8), dns.edns.GenericOption(dns.edns.OptionType.NSID, b""),
    dns.edns.GenericOption(dns.edns.OptionType.KEEPALIVE, b""),
    dns.edns.GenericOption(65001, b"\xde\xad\xbe\xef"),
    dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 20)]).to_wire())
put("query_root_ns", query(".", "NS", do=True, flags=0).to_wire())
put("query_ptr", query("4.3.2.1.in-addr.arpa.", "PTR").to_wire())
put("query_any_ch", dns.message.make_query("version.bind.", "TXT", "CH").to_wire())
put("query_edns_v1", query("example.", "A", options=[]).to_wire()[:-11] +
    bytes([0, 0, 41, 4, 208, 0, 1, 0x80, 0, 0, 0]))
put("query_type65534", query("example.", 65534).to_wire())
# A question name ending in a compression pointer into the header (FORMERR).
# Seeds named malformed_* must be rejected (tests/wire/test_message.cpp).
put("malformed_query_header_pointer", bytes.fromhex("123401000001000000000000") + b"\x03www\xc0\x04" + b"\x00\x01\x00\x01")
put("query_long_name", query(".".join(["a" * 63] * 3) + ".example.", "A").to_wire())

# --- a signed zone -------------------------------------------------------------
zone = dns.name.from_text("example.")
key = ec.generate_private_key(ec.SECP256R1())
dnskey = dns.dnssec.make_dnskey(key.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=257)
dnskey_set = dns.rrset.from_rdata(zone, 3600, dnskey)


def sign(rrs):
    return dns.dnssec.sign(rrs, key, zone, dnskey, inception=NOW - 86400, expiration=NOW + 30 * 86400,
                           lifetime=None)


def signed(rrs):
    sig = sign(rrs)
    return [rrs, dns.rrset.from_rdata(rrs.name, rrs.ttl, sig)]


def response(q, *, rcode=dns.rcode.NOERROR, aa=True, answer=(), authority=(), additional=(), tc=False):
    r = dns.message.make_response(q)
    r.flags |= (dns.flags.AA if aa else 0) | (dns.flags.TC if tc else 0) | dns.flags.RA
    r.set_rcode(rcode)
    for section, rrsets in ((r.answer, answer), (r.authority, authority), (r.additional, additional)):
        for rrs in rrsets:
            section.append(rrs)
    return r


www = rrset("www.example.", 300, "A", "192.0.2.1", "192.0.2.2", "192.0.2.3")
put("answer_3a", response(query("www.example.", "A"), answer=[www]).to_wire())
put("answer_3a_signed", response(query("www.example.", "A", do=True), answer=signed(www)).to_wire())
put("answer_dnskey_signed", response(query("example.", "DNSKEY", do=True),
                                     answer=signed(dnskey_set)).to_wire())

soa = rrset("example.", 3600, "SOA", "ns1.example. hostmaster.example. 2026010101 7200 900 1209600 300")
ns = rrset("example.", 3600, "NS", "ns1.example.", "ns2.example.net.")
glue = [rrset("ns1.example.", 3600, "A", "192.0.2.53"), rrset("ns1.example.", 3600, "AAAA", "2001:db8::53")]

# NSEC3 denial (RFC 5155), hashes computed for real.
salt = "aabbccdd"


def h(name):
    return dns.dnssec.nsec3_hash(name, salt, 1, "SHA1")


nsec3_owner = h("example.").lower() + ".example."
nsec3 = rrset(nsec3_owner, 300, "NSEC3",
              f"1 0 1 {salt} {h('www.example.').lower()} NS SOA RRSIG DNSKEY NSEC3PARAM")
put("nxdomain_nsec3", response(query("nope.example.", "A", do=True), rcode=dns.rcode.NXDOMAIN,
                               authority=signed(soa) + signed(nsec3)).to_wire())
put("nodata_nsec3", response(query("www.example.", "MX", do=True),
                             authority=signed(soa) + signed(nsec3)).to_wire())

# Referral from the root with DS and glue.
root_q = query("www.example.", "A", do=True, flags=0)
ds = rrset("example.", 86400, "DS", f"{dnskey_set[0].to_text() and dns.dnssec.key_id(dnskey)} 13 2 " +
           hashlib.sha256(b"x").hexdigest())
put("referral_ds_glue", response(root_q, aa=False, authority=[ns] + signed(ds), additional=glue).to_wire())
put("referral_plain", response(query("www.example.", "A", flags=0), aa=False, authority=[ns],
                               additional=glue).to_wire())

# CNAME chain, MX, SRV, TXT, CAA, SVCB/HTTPS, TLSA, SSHFP, NAPTR, DNAME.
chain = [rrset("alias.example.", 60, "CNAME", "www.example."), www]
put("cname_chain", response(query("alias.example.", "A"), answer=chain, authority=[ns], additional=glue).to_wire())
put("mx_answer", response(query("example.", "MX"), answer=[rrset("example.", 300, "MX", "10 mail.example.",
                                                                  "20 mail2.Example.")]).to_wire())
# 0x20: names in rdata compressed against a randomised question (MX, SRV).
put("mx_answer_0x20", response(query("eXaMpLe.CoM.", "MX"), answer=[
    rrset("example.com.", 300, "MX", "10 mail.example.com.", "20 backup.mail.example.com.")]).to_wire())
put("srv_answer_0x20", response(query("_SiP._tCp.ExAmPlE.", "SRV"), answer=[
    rrset("_sip._tcp.example.", 300, "SRV", "10 60 5060 sip.example.")]).to_wire())
put("srv_answer", response(query("_sip._tcp.example.", "SRV"), answer=[
    rrset("_sip._tcp.example.", 300, "SRV", "10 60 5060 sip.example.")]).to_wire())
put("txt_answer", response(query("example.", "TXT"), answer=[
    rrset("example.", 300, "TXT", '"v=spf1 -all"', '"a" "b" "c"')]).to_wire())
put("caa_answer", response(query("example.", "CAA"), answer=[
    rrset("example.", 300, "CAA", '0 issue "letsencrypt.org"')]).to_wire())
put("https_answer", response(query("example.", "HTTPS"), answer=[
    rrset("example.", 300, "HTTPS", '1 . alpn="h2,h3" ipv4hint=192.0.2.1 ipv6hint=2001:db8::1')]).to_wire())
put("tlsa_answer", response(query("_443._tcp.example.", "TLSA"), answer=[
    rrset("_443._tcp.example.", 300, "TLSA", "3 1 1 " + "ab" * 32)]).to_wire())
put("naptr_dname", response(query("x.old.example.", "A"), answer=[
    rrset("old.example.", 300, "DNAME", "new.example."),
    rrset("x.old.example.", 300, "CNAME", "x.new.example."),
    rrset("example.", 300, "NAPTR", '100 10 "S" "SIP+D2U" "" _sip._udp.example.')]).to_wire())
put("nsec_answer", response(query("example.", "NSEC", do=True), answer=signed(
    rrset("example.", 300, "NSEC", "www.example. A NS SOA MX RRSIG NSEC DNSKEY TYPE65534"))).to_wire())
put("unknown_type", response(query("example.", 65280), answer=[
    rrset("example.", 300, "TYPE65280", r"\# 4 deadbeef")]).to_wire())
put("ptr_answer", response(query("1.2.0.192.in-addr.arpa.", "PTR"), answer=[
    rrset("1.2.0.192.in-addr.arpa.", 300, "PTR", "host.example.")]).to_wire())

# Error responses with EDE, truncation, NOTIFY, BADVERS.
ede = response(query("bogus.example.", "A", do=True), rcode=dns.rcode.SERVFAIL, aa=False)
ede.use_edns(0, payload=1232, options=[dns.edns.EDEOption(dns.edns.EDECode.DNSSEC_BOGUS, "signature expired"),
                                       dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 30)])
put("servfail_ede", ede.to_wire())
put("truncated_tc", response(query("big.example.", "TXT"), tc=True).to_wire())
badvers = response(query("example.", "A"), aa=False)
badvers.use_edns(0, payload=1232)
badvers.set_rcode(dns.rcode.BADVERS)
put("badvers", badvers.to_wire())
notify = dns.message.make_query("example.", "SOA")
notify.set_opcode(dns.opcode.NOTIFY)
notify.flags = dns.flags.AA
notify.answer.append(soa)
put("notify_soa", notify.to_wire())
put("refused_empty", response(query("example.", "A"), rcode=dns.rcode.REFUSED, aa=False).to_wire())

os.makedirs(OUT, exist_ok=True)
for old in os.listdir(OUT):
    os.remove(os.path.join(OUT, old))
for name, wire in sorted(seeds.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(wire)
print(f"wrote {len(seeds)} seeds to {OUT}", file=sys.stderr)

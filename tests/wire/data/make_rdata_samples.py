#!/usr/bin/python3
"""Regenerates rdata_samples.txt: real-world presentation-format rdata with
the wire form dnspython (an independent implementation) produces for it.

Run with Debian's /usr/bin/python3 (it has dnspython):
    /usr/bin/python3 tests/wire/data/make_rdata_samples.py > tests/wire/data/rdata_samples.txt
Each output line is: TYPE <TAB> presentation text <TAB> wire hex.
"""
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

ROOT_KSK_20326 = (
    "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU="
)
ROOT_KSK_38696 = (
    "AwEAAa96jeuknZlaeSrvyAJj6ZHv28hhOKkx3rLGXVaC6rXTsDc449/cidltpkyGwCJNnOAlFNKF2jBosZBU5eeHspaQWOmOElZsjICMQMC3aeHbGiShvZsx4wMYSjH8e7Vrhbu6irwCzVBApESjbUdpWWmEnhathWu1jo+siFUiRAAxm9qyJNg/wOZqqzL/dL/q8PkcRU5oUKEpUge71M3ej2/7CPqpdVwuMoTvoB+ZOT4YeGyxMvHmbrxlFzGOHOijtzN+u1TQNatX2XBuzZNQ1K+s2CXkPIZo7s6JgZyvaBevYtxPvYLw4z9mR7K2vaF18UYH9Z9GNUUeayffKC73PYc="
)
# The shape of a root-zone RRSIG over the root SOA (RSASHA256, 2048-bit ZSK);
# the signature octets are a placeholder of the right length.
SIG_2048 = "".join(
    "Q2FuIHlvdSBzZWUgdGhlIHNpZ25hdHVyZT8gSXQgaXMgMjU2IG9jdGV0cyBsb25nIGxpa2UgYSBy"[i % 76]
    for i in range(340)
) + "AA=="

SAMPLES = [
    ("A", "198.41.0.4"),
    ("AAAA", "2001:503:ba3e::2:30"),
    ("AAAA", "::ffff:192.0.2.1"),
    ("NS", "a.root-servers.net."),
    ("CNAME", "www.Example.COM."),
    ("PTR", "dns.google."),
    ("DNAME", "example.net."),
    ("SOA", "a.root-servers.net. nstld.verisign-grs.com. 2024041801 1800 900 604800 86400"),
    ("MX", "10 smtp.google.com."),
    ("MX", "0 ."),
    ("TXT", '"v=spf1 -all"'),
    ("TXT", '"hello world" "second string" ""'),
    ("TXT", r'"quote \" backslash \\ and \010 newline-ish" "\255\000"'),
    ("HINFO", '"PC-Intel-700mhz" "NetBSD 1.4"'),
    ("SRV", "0 5 5060 sipserver.example.com."),
    ("NAPTR", r'100 10 "u" "E2U+sip" "!^.*$!sip:information@foo.se!i" .'),
    ("NAPTR", '100 50 "s" "http+I2L+I2C+I2R" "" _http._tcp.foo.com.'),
    ("DS", "20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"),
    ("DS", "38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16"),
    ("CDS", "0 0 0 00"),
    ("DNSKEY", "257 3 8 " + ROOT_KSK_20326),
    ("DNSKEY", "257 3 8 " + ROOT_KSK_38696),
    ("CDNSKEY", "0 3 0 AA=="),
    ("RRSIG", "SOA 8 0 86400 20240501170000 20240418160000 5613 . " + SIG_2048),
    ("RRSIG", "NSEC3 13 2 3600 20300101000000 19700101000001 12345 example. "
              "dGhpcyBpcyBub3QgYSByZWFsIEVDRFNBIHNpZ25hdHVyZSBidXQgaXQgaXMgNjQgb2N0ZXRzIGxvbmch"),
    ("NSEC", "host.example.com. A MX RRSIG NSEC TYPE1234"),
    ("NSEC", "\\000.example. NS DS RRSIG NSEC"),
    ("NSEC3", "1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR MX DNSKEY NS SOA NSEC3PARAM RRSIG"),
    ("NSEC3", "1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S"),
    ("NSEC3PARAM", "1 0 12 AABBCCDD"),
    ("NSEC3PARAM", "1 0 0 -"),
    ("TLSA", "3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"),
    ("SSHFP", "4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF123456789"),
    ("SSHFP", "2 1 123456789ABCDEF67890123456789ABCDEF67890"),
    ("ZONEMD", "2018031900 1 1 C68090D90A7AED716BC459F9340E3D7C1370D4D24B7E2FC3A1DDC0B9A87153B9"
               "A9713B3C9AE5CC27777F98B8E730044C"),
    ("CAA", '0 issue "letsencrypt.org"'),
    ("CAA", '0 iodef "mailto:security@example.com"'),
    ("CAA", '128 tbs "Unknown"'),
    ("SVCB", "1 ."),
    ("SVCB", "16 foo.example.com. port=53"),
    ("SVCB", "1 foo.example.com. key667=hello"),
    ("SVCB", r'1 foo.example.com. key667="hello\210qoo"'),
    ("SVCB", '1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1"'),
    ("SVCB", '1 example.com. ipv6hint="2001:db8:122:344::192.0.2.33"'),
    ("SVCB", "16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1"),
    ("SVCB", r'16 foo.example.org. alpn="f\\\\oo\\,bar,h2"'),
    ("SVCB", "1 dns.example. alpn=dot,doq port=853 dohpath=\"/dns-query{?dns}\""),
    ("HTTPS", "0 foo.example.com."),
    ("HTTPS", "1 . alpn=h3,h2 ipv4hint=104.16.132.229,104.16.133.229 "
              "ech=AEX+DQBBpQAgACB/RU8hNhq4a5WTGbsQL3GAxLWDZRlbFfDcgqc7lmLmHQAEAAEAAQASY2xvdWRmbGFyZS1lY2guY29tAAA= "
              "ipv6hint=2606:4700::6810:84e5,2606:4700::6810:85e5"),
    ("HTTPS", "1 . alpn=h2 no-default-alpn port=8443"),
    ("TYPE65534", r"\# 3 ABCDEF"),
    ("TYPE65534", r"\# 0"),
]


def main():
    for type_text, rdata_text in SAMPLES:
        rdtype = dns.rdatatype.from_text(type_text)
        # dnspython 2.3 predates the dohpath key (RFC 9461); key7 is its number.
        text_for_dnspython = rdata_text.replace("dohpath=", "key7=")
        rd = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text_for_dnspython, origin=dns.name.root)
        wire = rd.to_wire(origin=dns.name.root)
        print(f"{type_text}\t{rdata_text}\t{wire.hex()}")


if __name__ == "__main__":
    main()

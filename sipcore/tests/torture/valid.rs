//! One check per valid corpus file: the values a correct parser must produce.

use super::{contacts, host, lines, names, req, resp, route, ruri, val, vals, vias};
use sipcore::headers::{CSeq, MacAddr, NameAddr};
use sipcore::{HeaderName, Host, Message, Method, Scheme};

type Check = fn(&Message);

pub const TABLE: &[(&str, Check)] = &[
    ("rfc4475-3.1.1.1-wsinv", wsinv),
    ("rfc4475-3.1.1.2-intmeth", intmeth),
    ("rfc4475-3.1.1.3-esc01", esc01),
    ("rfc4475-3.1.1.4-escnull", escnull),
    ("rfc4475-3.1.1.5-esc02", esc02),
    ("rfc4475-3.1.1.6-lwsdisp", lwsdisp),
    ("rfc4475-3.1.1.7-longreq", longreq),
    ("rfc4475-3.1.1.8-dblreq", dblreq),
    ("rfc4475-3.1.1.9-semiuri", semiuri),
    ("rfc4475-3.1.1.10-transports", transports),
    ("rfc4475-3.1.1.11-mpart01", mpart01),
    ("rfc4475-3.1.1.12-unreason", unreason),
    ("rfc4475-3.1.1.13-noreason", noreason),
    ("rfc4475-3.1.2.12-baddate", baddate),
    ("rfc4475-3.2.1-badbranch", badbranch),
    ("rfc4475-3.3.2-unkscm", unkscm),
    ("rfc4475-3.3.3-novelsc", novelsc),
    ("rfc4475-3.3.4-unksm2", unksm2),
    ("rfc4475-3.3.5-bext01", bext01),
    ("rfc4475-3.3.6-invut", invut),
    ("rfc4475-3.3.7-regaut01", regaut01),
    ("rfc4475-3.3.10-bcast", bcast),
    ("rfc4475-3.3.11-zeromf", zeromf),
    ("rfc4475-3.3.12-cparam01", cparam01),
    ("rfc4475-3.3.13-cparam02", cparam02),
    ("rfc4475-3.3.14-regescrt", regescrt),
    ("rfc4475-3.3.15-sdp01", sdp01),
    ("rfc4475-3.4.1-inv2543", inv2543),
    ("own-ipv6-invite", ipv6_invite),
    ("own-tel-uri", tel_uri),
    ("own-sips-register", sips_register),
    ("own-compact-all", compact_all),
    ("own-folded-lines", folded_lines),
    ("own-comma-lists", comma_lists),
    ("own-path-register", path_register),
    ("own-quoted-escapes", quoted_escapes),
    ("own-extension-method", extension_method),
    ("own-lowercase-method", lowercase_method),
    ("own-repeated-headers", repeated_headers),
    ("own-case-insensitive-names", case_insensitive_names),
    ("own-binary-body", binary_body),
    ("own-invite-proxy-auth", invite_proxy_auth),
    ("own-keepalive-prefix", keepalive_prefix),
    ("own-no-content-length", no_content_length),
    ("own-180-ringing", ringing),
    ("own-ack-cancel-style", ack),
    ("own-401-www-authenticate", unauthorized),
    ("contract-register", contract_register),
    ("contract-register-ipv6", contract_register_ipv6),
    ("contract-200-ok", contract_200_ok),
];

fn sdp_body(m: &Message, len: usize, c_line: &str) {
    let body = m.body();
    assert_eq!(body.len(), len);
    assert_eq!(m.headers().content_length().unwrap(), Some(len as u32));
    assert!(body.starts_with(b"v=0\r\n"));
    assert!(body.ends_with(b"\r\n"));
    assert!(body.windows(c_line.len()).any(|w| w == c_line.as_bytes()), "no {c_line}");
    assert!(m.headers().content_type().unwrap().unwrap().is("application", "sdp"));
}

fn cseq(m: &Message, seq: u32, method: Method) {
    assert_eq!(m.headers().cseq().unwrap(), CSeq { seq, method });
}

fn s(v: &[(&str, &str, Option<u16>, Option<&str>)]) -> Vec<(String, String, Option<u16>, Option<String>)> {
    v.iter().map(|(t, h, p, b)| (t.to_string(), h.to_string(), *p, b.map(str::to_owned))).collect()
}

fn wsinv(m: &Message) {
    assert_eq!(req(m).method, Method::Invite);
    let u = ruri(m);
    assert_eq!((u.scheme, u.user, u.host, u.port), (Scheme::Sip, Some("vivekg"), Some(host("chair-dnrc.example.com")), None));
    assert_eq!(u.params.get("unknownparam"), Some(None));
    let h = m.headers();
    let to = h.to_addr().unwrap();
    assert_eq!((to.display, to.uri.user, to.tag()), (None, Some("vivekg"), Some("1918181833n")));
    let from = h.from_addr().unwrap();
    assert_eq!(from.display_name().unwrap(), "J Rosenberg \\\"");
    assert_eq!((from.uri.as_str(), from.tag()), ("sip:jdrosen@example.com", Some("98asjd8")));
    assert_eq!(h.max_forwards().unwrap(), Some(68));
    assert_eq!(h.call_id().unwrap(), "wsinv.ndaksdj@192.0.2.1");
    cseq(m, 9, Method::Invite);
    let want = [
        ("UDP", "192.0.2.2", None, Some("390skdjuw")),
        ("TCP", "spindle.example.com", None, Some("z9hG4bK9ikj8")),
        ("UDP", "192.168.255.111", None, Some("z9hG4bK30239")),
    ];
    assert_eq!(vias(m), s(&want));
    assert_eq!(val(m, "Subject"), "");
    assert_eq!(val(m, "NewFangledHeader"), "newfangled value continued newfangled value");
    assert_eq!(val(m, "UnknownHeaderWithUnusualValue"), ";;,,;;,;");
    let r = NameAddr::parse(val(m, "Route")).unwrap();
    assert_eq!(r.uri.host, Some(host("services.example.com")));
    assert_eq!(r.uri.params.iter().collect::<Vec<_>>(), [("lr", None), ("unknownwith", Some("value")), ("unknown-no-value", None)]);
    let c = contacts(m);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].display_name().unwrap(), "Quoted string \"\"");
    assert_eq!(c[0].params.iter().collect::<Vec<_>>(), [("newparam", Some("newvalue")), ("secondparam", None), ("q", Some("0.33"))]);
    assert_eq!(
        names(m),
        ["To", "From", "Max-Forwards", "Call-ID", "Content-Length", "CSeq", "Via", "Subject", "NewFangledHeader"]
            .into_iter()
            .chain(["UnknownHeaderWithUnusualValue", "Content-Type", "Route", "Via", "Contact"])
            .collect::<Vec<_>>()
    );
    sdp_body(m, 150, "c=IN IP4 192.0.2.4\r\n");
}

const INTMETH: &str = "!interesting-Method0123456789_*+`.%indeed'~";

fn intmeth(m: &Message) {
    assert_eq!(req(m).method, Method::from_token(INTMETH).unwrap());
    assert_eq!(req(m).method.as_str(), INTMETH);
    let u = ruri(m);
    assert_eq!(u.user, Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"));
    assert_eq!(u.password, Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"));
    assert_eq!((u.host, u.port, u.headers), (Some(host("example.com")), None, None));
    let h = m.headers();
    let to = h.to_addr().unwrap();
    assert_eq!(to.display_name().unwrap(), "BEL:\x07 NUL:\x00 DEL:\x7f");
    assert_eq!(to.uri.user, Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"));
    let from = h.from_addr().unwrap();
    assert_eq!(from.display, Some("token1~` token2'+_ token3*%!.-"));
    assert_eq!(from.params.get("fromParam''~+*_!.-%"), Some(Some("\"работающий\"")));
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(h.call_id().unwrap(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    cseq(m, 139_122_385, Method::from_token(INTMETH).unwrap());
    assert_eq!(h.max_forwards().unwrap(), Some(255));
    assert_eq!(val(m, "extensionHeader-!.%*+_`'~"), "\u{feff}大停電");
    assert_eq!(vias(m), s(&[("TCP", "host1.example.com", None, Some("z9hG4bK-.!%66*_+`'~"))]));
    assert!(m.body().is_empty());
}

fn esc01(m: &Message) {
    let u = ruri(m);
    assert_eq!((u.user, u.host), (Some("sips%3Auser%40example.com"), Some(host("example.net"))));
    let h = m.headers();
    assert_eq!(h.to_addr().unwrap().uri.user, Some("%75se%72"));
    let from = h.from_addr().unwrap();
    assert_eq!((from.uri.user, from.tag()), (Some("I%20have%20spaces"), Some("938")));
    assert_eq!(h.max_forwards().unwrap(), Some(87));
    assert_eq!(h.call_id().unwrap(), "esc01.239409asdfakjkn23onasd0-3234");
    cseq(m, 234_234, Method::Invite);
    let c = contacts(m);
    assert_eq!((c[0].uri.user, c[0].uri.host), (Some("cal%6Cer"), Some(host("host5.example.net"))));
    assert_eq!(c[0].uri.params.iter().collect::<Vec<_>>(), [("%6C%72", None), ("n%61me", Some("v%61lue%25%34%31"))]);
    // "i:" and "C:" are compact forms.
    assert_eq!(names(m), ["To", "From", "Max-Forwards", "Call-ID", "CSeq", "Via", "Content-Type", "Contact", "Content-Length"]);
    sdp_body(m, 150, "c=IN IP4 192.0.2.1\r\n");
}

fn escnull(m: &Message) {
    assert_eq!(req(m).method, Method::Register);
    let h = m.headers();
    assert_eq!(h.to_addr().unwrap().uri.user, Some("null-%00-null"));
    assert_eq!(h.from_addr().unwrap().tag(), Some("839923423"));
    let users: Vec<_> = contacts(m).iter().map(|c| c.uri.user).collect();
    assert_eq!(users, [Some("%00"), Some("%00%00")]);
    assert_eq!(lines(m, "Contact").len(), 2);
    cseq(m, 14_398_234, Method::Register);
    assert_eq!(h.content_length().unwrap(), Some(0)); // "L:0"
}

fn esc02(m: &Message) {
    let method = &req(m).method;
    assert_eq!(method.as_str(), "RE%47IST%45R");
    assert_ne!(*method, Method::Register);
    assert_eq!(ruri(m).host, Some(host("registrar.example.com")));
    let h = m.headers();
    assert_eq!(h.to_addr().unwrap().display_name().unwrap(), "%Z%45");
    assert_eq!(h.from_addr().unwrap().tag(), Some("f232jadfj23"));
    assert_eq!(vias(m), s(&[("TCP", "host.example.com", None, Some("z9hG4bK209%fzsnel234"))]));
    cseq(m, 29344, Method::from_token("RE%47IST%45R").unwrap());
    let users: Vec<_> = contacts(m).iter().map(|c| c.uri.user).collect();
    assert_eq!(users, [Some("alias1"), Some("alias3")]);
    assert_eq!(val(m, "C%6Fntact"), "<sip:alias2@host2.example.com>");
    assert!(HeaderName::from("C%6Fntact").is_other());
}

fn lwsdisp(m: &Message) {
    let from = m.headers().from_addr().unwrap();
    assert_eq!((from.display, from.uri.as_str(), from.tag()), (Some("caller"), "sip:caller@example.com", Some("323")));
    cseq(m, 60, Method::Options);
}

fn longreq(m: &Message) {
    let h = m.headers();
    let to = h.to_addr().unwrap();
    assert_eq!(to.display_name().unwrap(), format!("I have a user name of {} proportion", "extreme".repeat(10)));
    assert_eq!(to.uri.port, Some(6000));
    let p: Vec<_> = to.uri.params.iter().collect();
    let v1 = format!("very{}value", "long".repeat(20));
    let n2 = format!("longparam{}", "name".repeat(25));
    let n3 = format!("very{}ParameterNameWithNoValue", "long".repeat(25));
    assert_eq!(p, [("unknownparam1", Some(v1.as_str())), (n2.as_str(), Some("shortvalue")), (n3.as_str(), None)]);
    let from = h.from_addr().unwrap();
    assert_eq!(from.uri.user, Some("amazinglylongcallername".repeat(5).as_str()));
    assert_eq!(from.tag(), Some(format!("12{}424", "982".repeat(50)).as_str()));
    assert_eq!(
        from.params.get(&format!("unknownheaderparam{}", "name".repeat(20))),
        Some(Some(format!("unknowheaderparam{}", "value".repeat(15)).as_str()))
    );
    assert_eq!(from.params.get(&format!("unknownValueless{}", "paramname".repeat(10))), Some(None));
    assert_eq!(h.call_id().unwrap(), format!("longreq.one{}longcallid", "really".repeat(20)));
    cseq(m, 3_882_340, Method::Invite);
    let long = "long".repeat(20);
    let unknown = format!("unknown-{long}-value; unknown-{long}-parameter-name = unknown-{long}-parameter-value");
    assert_eq!(val(m, &format!("Unknown-{}-Name", "Long".repeat(20))), unknown);
    let v = vias(m);
    assert_eq!(v.len(), 34);
    for (i, via) in v.iter().take(33).enumerate() {
        assert_eq!((via.0.as_str(), via.1.clone(), via.2, &via.3), ("TCP", format!("sip{}.example.com", 33 - i), None, &None));
    }
    let last = h.vias().last().unwrap().unwrap();
    assert_eq!(last.branch(), Some(format!("very{}branchvalue", "long".repeat(50)).as_str()));
    assert_eq!(last.received(), Some("192.0.2.5".parse().unwrap()));
    assert_eq!(lines(m, "Via").len(), 34); // v, V, ViA, vIa … all one name
    assert_eq!(contacts(m)[0].uri.user, Some("amazinglylongcallername".repeat(5).as_str()));
    sdp_body(m, 150, "c=IN IP4 192.0.2.1\r\n");
}

fn dblreq(m: &Message) {
    assert_eq!(req(m).method, Method::Register);
    assert!(m.body().is_empty(), "the trailing INVITE is not part of the REGISTER");
    assert_eq!(m.headers().len(), 8);
    assert_eq!(m.headers().call_id().unwrap(), "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
    let c = contacts(m);
    assert_eq!((c[0].display, c[0].uri.as_str()), (None, "sip:j.user@host.example.com"));
}

fn semiuri(m: &Message) {
    let u = ruri(m);
    assert_eq!((u.user, u.host, u.params.as_str()), (Some("user;par=u%40example.net"), Some(host("example.com")), ""));
    let accept = ["application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed", "message/sip", "message/sipfrag"];
    assert_eq!(vals(m, "Accept"), accept);
    assert_eq!(lines(m, "Accept").len(), 1);
}

fn transports(m: &Message) {
    assert_eq!(m.headers().call_id().unwrap(), "transports.kijh4akdnaqjkwendsasfdj");
    let got: Vec<_> = vias(m).into_iter().map(|v| (v.0, v.1)).collect();
    let want = [("UDP", "t1"), ("SCTP", "t2"), ("TLS", "t3"), ("UNKNOWN", "t4"), ("TCP", "t5")];
    assert_eq!(got, want.map(|(t, h)| (t.to_owned(), format!("{h}.example.com"))));
}

fn mpart01(m: &Message) {
    assert_eq!(req(m).method, Method::Message);
    let h = m.headers();
    let v = h.top_via().unwrap();
    assert_eq!((v.host, v.port, v.rport()), (host("127.0.0.1"), Some(5070), Some(None)));
    assert_eq!(v.branch(), Some("z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-"));
    assert_eq!(route(m, "Route"), ["sip:127.0.0.1:5080"]);
    assert!(val(m, "Identity").starts_with("r5mwreLuyDRYBi/0TiPwEsY3rEVsk") && val(m, "Identity").ends_with("UhkMWYUA="));
    let ct = h.content_type().unwrap().unwrap();
    assert!(ct.is("multipart", "mixed"));
    assert_eq!(ct.params.get("boundary"), Some(Some("7a9cbec02ceef655")));
    assert_eq!(val(m, "Date"), "Sat, 15 Oct 2005 04:44:56 GMT");
    assert_eq!(val(m, "User-Agent"), "SIPimp.org/0.2.5 (curses)");
    let body = m.body();
    assert_eq!(Some(body.len() as u32), h.content_length().unwrap());
    assert!(body.starts_with(b"--7a9cbec02ceef655\r\n") && body.ends_with(b"--7a9cbec02ceef655--\r\n"));
    assert!(body.contains(&0) && body.windows(4).filter(|w| w == b"\r\n\r\n").count() >= 3);
}

fn unreason(m: &Message) {
    let r = resp(m);
    assert_eq!(r.status, 200);
    assert_eq!(&*r.reason, "= 2**3 * 5**2 но сто девяносто девять - простое");
    assert_eq!(m.headers().to_addr().unwrap().tag(), Some("2229"));
    cseq(m, 35, Method::Invite);
    assert_eq!(contacts(m)[0].uri.host, Some(host("host198.example.com")));
    sdp_body(m, 154, "c=IN IP4 192.0.2.198\r\n");
}

fn noreason(m: &Message) {
    assert_eq!((resp(m).status, &*resp(m).reason), (100, ""));
    assert_eq!(m.headers().to_addr().unwrap().tag(), Some("902jndnke3"));
}

fn baddate(m: &Message) {
    assert_eq!(val(m, "Date"), "Fri, 01 Jan 2010 16:00:00 EST");
    sdp_body(m, 150, "c=IN IP4 192.0.2.5\r\n");
}

fn badbranch(m: &Message) {
    let v = m.headers().top_via().unwrap();
    assert_eq!(v.branch(), Some("z9hG4bK"));
    assert!(v.is_rfc3261_branch());
    assert_eq!(vals(m, "Accept"), ["application/sdp"]);
}

fn unkscm(m: &Message) {
    let u = ruri(m);
    assert_eq!(u.scheme, Scheme::Other("nobodyKnowsThisScheme"));
    assert_eq!((u.as_str(), u.host, u.user), ("nobodyKnowsThisScheme:totallyopaquecontent", None, None));
}

fn novelsc(m: &Message) {
    let u = ruri(m);
    assert_eq!((u.scheme, u.as_str()), (Scheme::Other("soap.beep"), "soap.beep://192.0.2.103:3002"));
}

fn unksm2(m: &Message) {
    let h = m.headers();
    assert_eq!(h.to_addr().unwrap().uri.scheme, Scheme::Other("isbn"));
    let from = h.from_addr().unwrap();
    assert_eq!((from.uri.scheme, from.uri.as_str(), from.tag()), (Scheme::Other("http"), "http://www.example.com", Some("3234233")));
    assert_eq!(contacts(m)[0].uri.as_str(), "name:John_Smith");
}

fn bext01(m: &Message) {
    assert_eq!(vals(m, "Require"), ["nothingSupportsThis", "nothingSupportsThisEither"]);
    assert_eq!(vals(m, "Proxy-Require"), ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]);
    assert!(m.headers().has_option(&HeaderName::Require, "nothingsupportsthis"));
    assert_eq!(vias(m), s(&[("TLS", "fold-and-staple.example.com", None, Some("z9hG4bKkdjuw"))]));
}

fn invut(m: &Message) {
    assert!(m.headers().content_type().unwrap().unwrap().is("application", "unknownformat"));
    assert_eq!(&m.body()[..], b"<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n");
}

fn regaut01(m: &Message) {
    assert_eq!(val(m, "Authorization"), "NoOneKnowsThisScheme opaque-data=here");
    assert_eq!(m.headers().content_length().unwrap(), Some(0));
}

fn bcast(m: &Message) {
    assert_eq!(resp(m).status, 200);
    let v: Vec<_> = m.headers().vias().map(|v| v.unwrap().host).collect();
    assert_eq!(v, [host("192.0.2.198"), Host::V4("255.255.255.255".parse().unwrap())]);
}

fn zeromf(m: &Message) {
    assert_eq!(m.headers().max_forwards().unwrap(), Some(0));
}

fn cparam01(m: &Message) {
    let c = &contacts(m)[0];
    assert_eq!((c.uri.as_str(), c.uri.params.as_str()), ("sip:+19725552222@gw1.example.net", ""));
    assert_eq!(c.params.get("unknownparam"), Some(None));
}

fn cparam02(m: &Message) {
    let c = &contacts(m)[0];
    assert_eq!(c.uri.params.get("unknownparam"), Some(None));
    assert_eq!(c.params.as_str(), "");
}

fn regescrt(m: &Message) {
    let c = &contacts(m)[0];
    assert_eq!(c.uri.headers, Some("Route=%3Csip:sip.example.com%3E"));
    // "M:" and "L:" are compact forms.
    assert_eq!(names(m), ["To", "From", "Max-Forwards", "Call-ID", "CSeq", "Via", "Contact", "Content-Length"]);
}

fn sdp01(m: &Message) {
    assert_eq!(val(m, "Accept"), "text/nobodyKnowsThis");
    sdp_body(m, 150, "c=IN IP4 192.0.2.5\r\n");
}

fn inv2543(m: &Message) {
    let h = m.headers();
    assert_eq!(h.max_forwards().unwrap(), None);
    assert_eq!(h.content_length().unwrap(), None);
    assert_eq!(h.top_via().unwrap().branch(), None);
    assert_eq!(h.from_addr().unwrap().tag(), None);
    let to = h.to_addr().unwrap();
    assert_eq!((to.uri.as_str(), to.params.get("user")), ("sip:+16505552222@ss1.example.net", Some(Some("phone"))));
    assert_eq!(route(m, "Record-Route"), ["sip:UserB@example.com;maddr=ss1.example.com"]);
    assert_eq!(m.body().len(), 105);
    assert!(m.body().ends_with(b"m=audio 49217 RTP/AVP 0\r\n"));
}

fn ipv6_invite(m: &Message) {
    let u = ruri(m);
    assert_eq!((u.host, u.port, u.transport()), (Some(Host::V6("2001:db8::10".parse().unwrap())), Some(5070), Some("udp")));
    let h = m.headers();
    let v: Vec<_> = h.vias().map(Result::unwrap).collect();
    assert_eq!((v[0].host, v[0].port, v[0].rport()), (host("[2001:db8::9:1]"), Some(5062), Some(Some(5062))));
    assert_eq!(v[0].received(), Some("2001:db8::9:255".parse().unwrap()));
    assert_eq!((v[1].transport, v[1].host.to_string(), v[1].port), ("TCP", "[2001:db8::7]".to_owned(), Some(5060)));
    assert_eq!(h.from_addr().unwrap().uri.host, Some(host("[2001:db8::9:1]")));
    assert_eq!(h.call_id().unwrap(), "v6call@2001:db8::9:1");
    let c = &contacts(m)[0];
    assert_eq!((c.uri.host, c.uri.port), (Some(host("[2001:db8::9:1]")), Some(5062)));
    assert_eq!(m.body().len(), 142);
    assert!(m.body().windows(22).any(|w| w == b"c=IN IP6 2001:db8::9:1"));
}

fn tel_uri(m: &Message) {
    let u = ruri(m);
    assert_eq!((u.scheme, u.user, u.host), (Scheme::Tel, Some("+1-201-555-0123"), None));
    assert_eq!(u.params.get("phone-context"), Some(Some("example.com")));
    let h = m.headers();
    assert_eq!(h.from_addr().unwrap().uri.user, Some("+1-201-555-0199"));
    assert_eq!(h.to_addr().unwrap().uri.scheme, Scheme::Tel);
    let c = &contacts(m)[0];
    assert!(c.uri.is_secure());
    assert_eq!(val(m, "p-asserted-identity"), "<tel:+12015550199>");
}

fn sips_register(m: &Message) {
    let u = ruri(m);
    assert!(u.is_secure());
    assert_eq!((u.scheme, u.host), (Scheme::Sips, Some(host("ss2.biloxi.example.com"))));
    let h = m.headers();
    let from = h.from_addr().unwrap();
    assert_eq!((from.display, from.uri.scheme, from.tag()), (Some("Bob"), Scheme::Sips, Some("a73kszlfl")));
    let c = &contacts(m)[0];
    assert_eq!((c.uri.scheme, c.expires(), c.params.get("q")), (Scheme::Sips, Some(3600), Some(Some("0.7"))));
    assert_eq!(h.expires().unwrap(), Some(7200));
    assert_eq!(vias(m), s(&[("TLS", "client.biloxi.example.com", Some(5061), Some("z9hG4bKnashds7"))]));
}

fn compact_all(m: &Message) {
    let want = [
        "Via",
        "Max-Forwards",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Refer-To",
        "Referred-By",
        "Event",
        "Allow-Events",
        "Supported",
        "Subject",
        "Accept-Contact",
        "Reject-Contact",
        "Request-Disposition",
        "Session-Expires",
        "Identity",
        "Identity-Info",
        "Content-Encoding",
        "Content-Type",
        "Content-Length",
    ];
    assert_eq!(names(m), want);
    assert!(m.headers().iter().all(|h| !h.name.is_other()));
    assert_eq!(req(m).method, Method::Refer);
    let h = m.headers();
    assert_eq!(h.from_addr().unwrap().tag(), Some("1928301774"));
    assert_eq!(h.call_id().unwrap(), "compact.a84b4c76e66710@pc33.atlanta.example.com");
    let refer = NameAddr::parse(val(m, "Refer-To")).unwrap();
    assert_eq!(refer.uri.headers, Some("Replaces=12345%40192.0.2.1%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994"));
    assert_eq!(vals(m, "Allow-Events"), ["refer", "presence", "dialog"]);
    assert_eq!(vals(m, "Supported"), ["replaces", "norefersub"]);
    assert_eq!(val(m, "Subject"), "compact forms, every one");
    assert_eq!(val(m, "Session-Expires"), "1800;refresher=uac");
    let ct = h.content_type().unwrap().unwrap();
    assert_eq!((ct.mtype, ct.subtype, ct.params.get("charset")), ("text", "plain", Some(Some("utf-8"))));
    assert_eq!(&m.body()[..], b"Hello compact world");
}

fn folded_lines(m: &Message) {
    assert_eq!(val(m, "Via"), "SIP/2.0/TCP pc33.atlanta.example.com:5060 ;branch=z9hG4bKfold1");
    assert_eq!(vias(m), s(&[("TCP", "pc33.atlanta.example.com", Some(5060), Some("z9hG4bKfold1"))]));
    let h = m.headers();
    assert_eq!(h.max_forwards().unwrap(), Some(70));
    let from = h.from_addr().unwrap();
    assert_eq!((from.display_name().unwrap().as_ref(), from.tag()), ("Alice Liddell", Some("fold2")));
    cseq(m, 63104, Method::Options);
    assert_eq!(val(m, "Subject"), "a subject that goes on and on");
    assert_eq!(vals(m, "Supported"), ["path", "outbound"]);
}

fn comma_lists(m: &Message) {
    let hosts: Vec<_> = vias(m).into_iter().map(|v| v.1).collect();
    assert_eq!(hosts, ["proxy2.example.com", "proxy1.example.com", "pc33.atlanta.example.com"]);
    assert_eq!(m.headers().vias().nth(1).unwrap().unwrap().received(), Some("192.0.2.101".parse().unwrap()));
    assert_eq!(route(m, "Route"), ["sip:p3.example.com;lr", "sip:p4.example.com;lr", "sip:p5.example.com;lr"]);
    assert_eq!(route(m, "Record-Route"), ["sip:proxy2.example.com;lr", "sip:proxy1.example.com;lr"]);
    let c = contacts(m);
    assert_eq!(c.len(), 2);
    assert_eq!((c[0].params.get("q"), c[1].display_name().unwrap().as_ref()), (Some(Some("0.9")), "Alice, mobile"));
    assert_eq!(c[1].uri.host, Some(host("mobile.example.com")));
    assert_eq!(vals(m, "Allow"), ["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE", "REFER", "NOTIFY", "MESSAGE"]);
    assert_eq!(vals(m, "Supported"), ["replaces", "timer", "100rel"]);
    assert_eq!(vals(m, "Require"), ["100rel", "timer"]);
    assert!(m.headers().has_option(&HeaderName::Require, "TIMER"));
    assert!(!m.headers().has_option(&HeaderName::Require, "replaces"));
    assert_eq!(vals(m, "Proxy-Require"), ["sec-agree"]);
}

fn path_register(m: &Message) {
    let path: Vec<_> = m.headers().name_addrs(&HeaderName::Path).map(Result::unwrap).collect();
    assert_eq!(path.len(), 3);
    assert!(path[0].ob() && !path[1].ob());
    assert_eq!(path[2].uri.host, Some(host("last.example.com")));
    let v: Vec<_> = m.headers().vias().map(Result::unwrap).collect();
    assert_eq!((v[1].rport(), v[1].received()), (Some(Some(40001)), Some("198.51.100.2".parse().unwrap())));
    let c = &contacts(m)[0];
    assert!(c.ob());
    assert_eq!((c.reg_id(), c.instance().unwrap().as_ref()), (Some(1), "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"));
    assert!(m.headers().has_option(&HeaderName::Supported, "path"));
}

fn quoted_escapes(m: &Message) {
    let h = m.headers();
    assert_eq!(h.from_addr().unwrap().display_name().unwrap(), "Alice \"Ace\" \\ Liddell, Esq.");
    assert_eq!(h.to_addr().unwrap().display_name().unwrap(), "Alice \"Ace\" \\ Liddell, Esq.");
    let c = contacts(m);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].display_name().unwrap(), "Desk; \"phone\", left");
    assert!(c[0].ob());
    assert_eq!(
        (c[0].instance().unwrap().as_ref(), c[0].reg_id(), c[0].expires()),
        ("<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>", Some(1), Some(3600))
    );
    assert_eq!((c[1].instance().unwrap().as_ref(), c[1].reg_id()), ("<urn:uuid:1a2b;x,y>", Some(2)));
    let d = c[1].params.get("description").unwrap().unwrap();
    assert_eq!(sipcore::text::unquote(d), "a \"quoted\" value, with comma");
}

fn extension_method(m: &Message) {
    let r = req(m);
    assert_eq!((&r.method, r.method.as_str()), (&Method::from_token("FROBNICATE").unwrap(), "FROBNICATE"));
    assert!(matches!(r.method, Method::Extension(_)));
    assert_eq!(ruri(m).params.get("x-param"), Some(Some("1")));
    cseq(m, 4711, Method::from_token("FROBNICATE").unwrap());
    assert_eq!(vals(m, "Allow"), ["INVITE", "FROBNICATE"]);
}

fn lowercase_method(m: &Message) {
    let r = req(m);
    assert!(matches!(&r.method, Method::Extension(t) if &**t == "invite"), "methods are case-sensitive");
    assert_ne!(r.method, Method::Invite);
    cseq(m, 1, Method::from_token("invite").unwrap());
}

fn repeated_headers(m: &Message) {
    let want = [
        "Via",
        "X-Trace",
        "Via",
        "Max-Forwards",
        "Route",
        "X-Trace",
        "From",
        "To",
        "Route",
        "Call-ID",
        "CSeq",
        "x-trace",
        "Event",
        "Accept",
        "Accept",
        "Expires",
        "Content-Length",
    ];
    assert_eq!(names(m), want);
    assert_eq!(lines(m, "x-TRACE"), ["one", "two", "three"]);
    let hosts: Vec<_> = vias(m).into_iter().map(|v| v.1).collect();
    assert_eq!(hosts, ["proxy.example.com", "pc33.atlanta.example.com"]);
    assert_eq!(route(m, "Route"), ["sip:r1.example.com;lr", "sip:r2.example.com;lr"]);
    assert_eq!(lines(m, "Accept"), ["application/pidf+xml", "application/xpidf+xml"]);
    assert_eq!(m.headers().expires().unwrap(), Some(600));
    assert_eq!(req(m).method, Method::Subscribe);
}

fn case_insensitive_names(m: &Message) {
    let want =
        ["Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Event", "subscription-state", "Contact", "X-MAC", "Content-Length"];
    assert_eq!(names(m), want);
    let h = m.headers();
    assert_eq!(h.top_via().unwrap().branch(), Some("z9hG4bKci1")); // BRANCH=
    assert_eq!(h.from_addr().unwrap().tag(), Some("ci1")); // TAG=
    assert_eq!(h.x_mac().unwrap(), Some(MacAddr([0x02, 0x42, 0xac, 0x11, 0x00, 0x02])));
    assert_eq!(val(m, "Subscription-State"), "active;expires=599");
    cseq(m, 3, Method::Notify);
}

fn binary_body(m: &Message) {
    let want: &[u8] = b"\x00\x01\x02BIN\r\n\r\nnot a header\r\n\r\n\x00\xff\xfe\x80\r\n\x00";
    assert_eq!(&m.body()[..], want);
    assert!(m.headers().content_type().unwrap().unwrap().is("application", "octet-stream"));
}

fn invite_proxy_auth(m: &Message) {
    let pa = val(m, "Proxy-Authorization");
    assert!(pa.starts_with("Digest username=\"alice\", realm=\"atlanta.example.com\""));
    assert!(pa.ends_with("response=\"42ce3cef44b22f50c6a6071bc8\""));
    cseq(m, 2, Method::Invite);
    sdp_body(m, 250, "c=IN IP4 192.0.2.101\r\n");
}

fn keepalive_prefix(m: &Message) {
    assert_eq!(req(m).method, Method::Options);
    assert_eq!(&*req(m).uri, "sip:example.com");
    cseq(m, 5, Method::Options);
}

fn no_content_length(m: &Message) {
    assert_eq!(m.headers().content_length().unwrap(), None);
    assert_eq!(&m.body()[..], b"datagram body without Content-Length\r\n");
}

fn ringing(m: &Message) {
    assert_eq!((resp(m).status, &*resp(m).reason), (180, "Ringing"));
    assert_eq!(vias(m).len(), 2);
    assert_eq!(route(m, "Record-Route"), ["sip:proxy2.example.com;lr", "sip:proxy1.example.com;lr"]);
    assert_eq!(val(m, "RSeq"), "1");
    assert!(m.headers().has_option(&HeaderName::Require, "100rel"));
    assert_eq!(m.headers().to_addr().unwrap().tag(), Some("8321234356"));
}

fn ack(m: &Message) {
    assert_eq!(req(m).method, Method::Ack);
    cseq(m, 2, Method::Ack);
    assert_eq!(route(m, "Route"), ["sip:proxy1.example.com;lr"]);
    assert_eq!(ruri(m).host, Some(host("192.0.2.4")));
}

fn unauthorized(m: &Message) {
    assert_eq!((resp(m).status, &*resp(m).reason), (401, "Unauthorized"));
    let w = lines(m, "WWW-Authenticate");
    assert_eq!(w.len(), 2);
    assert!(w[0].starts_with("Digest realm=\"example.com\", qop=\"auth\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\""));
    assert!(w[0].ends_with("algorithm=MD5, stale=FALSE"));
    assert!(w[1].ends_with("algorithm=SHA-256"));
    cseq(m, 1, Method::Register);
}

fn contract_register(m: &Message) {
    let u = ruri(m);
    assert_eq!((u.scheme, u.user, u.host), (Scheme::Sip, None, Some(host("example.com"))));
    let h = m.headers();
    let v = h.top_via().unwrap();
    assert_eq!((v.transport, v.host, v.port, v.rport()), ("TCP", host("10.1.0.2"), Some(5060), Some(None)));
    assert!(v.is_rfc3261_branch());
    let c = &contacts(m)[0];
    assert_eq!((c.uri.user, c.uri.transport(), c.ob()), (Some("1001"), Some("tcp"), true));
    assert_eq!((c.instance().unwrap().as_ref(), c.reg_id()), ("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>", Some(1)));
    assert!(h.has_option(&HeaderName::Supported, "outbound") && h.has_option(&HeaderName::Supported, "path"));
    assert_eq!(h.x_mac().unwrap(), Some("02:42:ac:11:00:02".parse().unwrap()));
    assert_eq!(h.x_private_ip().unwrap(), Some("10.1.0.2".parse().unwrap()));
    assert_eq!(h.x_public_ip().unwrap(), Some("198.51.100.2".parse().unwrap()));
    assert_eq!(h.x_bearer_port().unwrap(), Some(40000));
    let auth = val(m, "Authorization");
    assert!(auth.starts_with("Digest username=\"1001\", realm=\"example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\""));
    assert!(auth.ends_with("qop=auth, nc=00000001"));
    assert_eq!(h.expires().unwrap(), Some(600));
    cseq(m, 2, Method::Register);
}

fn contract_register_ipv6(m: &Message) {
    let h = m.headers();
    let v = h.top_via().unwrap();
    assert_eq!((v.transport, v.host, v.port), ("TLS", Host::V6("fd00::2".parse().unwrap()), Some(5061)));
    let c = &contacts(m)[0];
    assert_eq!((c.uri.scheme, c.uri.host, c.ob()), (Scheme::Sips, Some(host("[fd00::2]")), true));
    assert_eq!(h.x_private_ip().unwrap(), Some("fd00::2".parse().unwrap()));
    assert_eq!(h.x_public_ip().unwrap(), Some("2001:db8:4::2".parse().unwrap()));
    assert_eq!(h.x_bearer_port().unwrap(), Some(40002));
    assert_eq!(h.call_id().unwrap(), "v6reg@fd00::2");
}

fn contract_200_ok(m: &Message) {
    assert_eq!((resp(m).status, &*resp(m).reason), (200, "OK"));
    let h = m.headers();
    let v = h.top_via().unwrap();
    assert_eq!((v.rport(), v.received()), (Some(Some(40001)), Some("198.51.100.2".parse().unwrap())));
    assert_eq!(contacts(m)[0].expires(), Some(600));
    assert!(h.has_option(&HeaderName::Require, "outbound"));
    assert_eq!(h.flow_timer().unwrap(), Some(25));
    assert_eq!(h.x_bearer_address().unwrap(), Some("203.0.113.10".parse().unwrap()));
    assert_eq!(h.to_addr().unwrap().tag(), Some("2493k59kd"));
    cseq(m, 2, Method::Register);
}

use super::*;

fn parse_nodes(input: &Input) -> Result<Vec<Node>> {
    nodes_from(input, parse_json(input, NODES_EXPECTED, NODES_WHAT)?)
}

fn parse_pods(input: &Input) -> Result<Vec<RawPod>> {
    pods_from(input, parse_json(input, PODS_EXPECTED, PODS_WHAT)?)
}

fn input(s: &[u8]) -> Input {
    Input {
        label: "--nodes file x.json".into(),
        bytes: s.to_vec(),
    }
}

fn nodes_err(s: &[u8]) -> String {
    match parse_nodes(&input(s)) {
        Ok(n) => panic!("accepted {} node(s)", n.len()),
        Err(e) => {
            assert!(matches!(e.downcast_ref::<Error>(), Some(Error::Input(_))));
            e.to_string()
        }
    }
}

const NODE: &str = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1",
    "labels":{"kubernetes.io/os":"linux","kubernetes.io/arch":"arm64","app":"x"},
    "annotations":{"kubeadm.alpha.kubernetes.io/cri-socket":"/var/run/dockershim.sock"}},
    "status":{"nodeInfo":{"kubeletVersion":"v1.23.17","containerRuntimeVersion":"docker://20.10.24"}}}"#;

#[test]
fn both_readers_refuse_a_head_that_is_not_text() {
    // Found by the detect_lists fuzz target: a byte that is not UTF-8 inside a string the
    // parser ignores, in the first 8 KiB. The whole-document reader calls the file binary;
    // the streaming reader must not accept it.
    let mut doc = include_bytes!("../../../tests/fixtures/detect/nodes-mixed.json").to_vec();
    let at = doc.windows(4).position(|w| w == b"ttl\"").unwrap();
    doc.insert(at + 2, 0xFF);
    for (streamed, whole) in lists_both_ways(&doc) {
        assert!(whole.contains("binary"), "{whole}");
        assert!(
            streamed.as_ref().is_none_or(|s| *s == whole),
            "{streamed:?}"
        );
    }
    let crash = include_bytes!("../../../fuzz/seeds/detect_lists/regression-not-text-in-head.json");
    for (streamed, whole) in lists_both_ways(crash) {
        assert!(streamed.is_none_or(|s| s == whole));
    }
}

#[test]
fn a_blank_head_is_read_in_bounded_memory() {
    let blank = vec![b' '; 3 * KEPT_BLANK_HEAD];
    assert_eq!(read_trimmed(&blank[..]).unwrap().len(), KEPT_BLANK_HEAD);
    let mut doc = blank.clone();
    doc.extend_from_slice(b"{\"kind\": \"List\"}\n");
    let read = read_trimmed(&doc[..]).unwrap();
    assert_eq!(&read[KEPT_BLANK_HEAD..], b"{\"kind\": \"List\"}\n");
    let short = b"\n\n  {}".to_vec();
    assert_eq!(read_trimmed(&short[..]).unwrap(), short);
}

#[test]
fn a_single_node_and_lists_parse() {
    let one = parse_nodes(&input(NODE.as_bytes())).unwrap();
    assert_eq!(one.len(), 1);
    let n = &one[0];
    assert_eq!(n.name, "n1");
    assert_eq!(
        n.arch.as_deref(),
        Some("arm64"),
        "labels fill in a missing nodeInfo"
    );
    assert_eq!(n.cri_socket.as_deref(), Some("/var/run/dockershim.sock"));
    for kind in ["List", "NodeList"] {
        let list = format!(
            r#"{{"apiVersion":"v1","kind":"{kind}","items":[{NODE},{NODE}],"metadata":{{}}}}"#
        );
        assert_eq!(parse_nodes(&input(list.as_bytes())).unwrap().len(), 2);
    }
    let bom = [b"\xEF\xBB\xBF".as_slice(), NODE.as_bytes()].concat();
    assert_eq!(parse_nodes(&input(&bom)).unwrap().len(), 1);
    let empty = br#"{"apiVersion":"v1","kind":"List","items":[]}"#;
    assert!(parse_nodes(&input(empty)).unwrap().is_empty());
}

#[test]
fn pool_labels_are_kept_and_other_labels_skipped() {
    let doc = br#"{"kind":"List","items":[
        {"kind":"Node","metadata":{"name":"a","labels":{"app":"x","eks.amazonaws.com/nodegroup":"ng-1",
          "kubernetes.io/arch":"arm64","node.kubernetes.io/instance-type":"m5.large"}}},
        {"kind":"Node","metadata":{"name":"b","labels":{"weird":{"nested":[1]},
          "beta.kubernetes.io/instance-type":"m4","agentpool":"old","agentpool":"np2"}}},
        {"kind":"Node","metadata":{"name":"c","labels":{"agentpool":null}}},
        {"kind":"Node","metadata":{"name":"d"}}]}"#;
    let nodes = parse_nodes(&input(doc)).unwrap();
    let pools: Vec<(&str, Option<&str>)> = nodes
        .iter()
        .map(|n| (n.pool.name.as_str(), n.pool.label))
        .collect();
    assert_eq!(
        pools,
        [
            ("ng-1", Some("eks.amazonaws.com/nodegroup")),
            ("np2", Some("agentpool")),
            ("(no pool label)", None),
            ("(no pool label)", None),
        ]
    );
    assert_eq!(nodes[0].arch.as_deref(), Some("arm64"));
    let [(streamed, whole), _] = lists_both_ways(doc);
    assert_eq!(streamed.as_deref(), Some(whole.as_str()));
    let bad = br#"{"kind":"Node","metadata":{"name":"a","labels":{"agentpool":7}}}"#;
    assert!(nodes_err(bad).contains("not a Node list"));
}

#[test]
fn bad_input_is_named_and_explained() {
    let cases: &[(&[u8], &str)] = &[
        (b"apiVersion: v1\nkind: List\n", "not JSON"),
        (&NODE.as_bytes()[..NODE.len() / 2], "truncated"),
        (b"\x1f\x8b\x08\x00\x00\x00", "binary"),
        (b"\xff\xfe{\x00}\x00", "UTF-16"),
        (b"   \n", "empty"),
        (b"[1, 2]", "JSON array"),
        (b"42", "not a Node list"),
        (
            br#"{"kind":"Deployment","metadata":{"name":"x"}}"#,
            "holds a Deployment",
        ),
        (
            br#"{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"p"}}]}"#,
            "item 0 is a Pod",
        ),
        (br#"{"kind":"List"}"#, "without \"items\""),
        (br#"{"metadata":{}}"#, "no \"kind\""),
        (
            br#"{"kind":"List","items":[{"kind":"Node","metadata":{}}]}"#,
            "metadata.name",
        ),
        (
            br#"{"kind":"List","items":[{"kind":"Node"}]}"#,
            "no metadata",
        ),
        (
            br#"{"kind":"Node","metadata":{"name":7}}"#,
            "not a Node list",
        ),
        (br#"{"kind":"List","items":[]} trailing"#, "not valid JSON"),
    ];
    for (bytes, want) in cases {
        let msg = nodes_err(bytes);
        assert!(msg.contains(want), "{msg:?} lacks {want:?}");
        assert!(msg.contains("--nodes file x.json"), "{msg}");
        assert!(msg.contains("kubectl get nodes -o json"), "{msg}");
    }
}

#[test]
fn pods_parse_and_reject_nodes() {
    let pods = br#"{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"p","namespace":"n",
        "labels":{"pod-template-hash":"abc"},"ownerReferences":[{"kind":"ReplicaSet","name":"d-abc","controller":true}]},
        "spec":{"nodeName":"n1","volumes":[{"name":"s","hostPath":{"path":"/run/docker.sock","type":"Socket"}},
        {"name":"t","projected":{"sources":[]}}]}}]}"#;
    let p = parse_pods(&Input {
        label: "--pods file p.json".into(),
        bytes: pods.to_vec(),
    })
    .unwrap();
    assert_eq!(p.len(), 1);
    let err = parse_pods(&Input {
        label: "--pods file p.json".into(),
        bytes: NODE.as_bytes().to_vec(),
    })
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.contains("holds a Node") && err.contains("kubectl get pods -A -o json"),
        "{err}"
    );
}

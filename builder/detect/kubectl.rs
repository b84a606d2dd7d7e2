//! Reading `builder detect`'s input: files or standard input, checked to be text, parsed with
//! serde into the few fields used (kubectl's JSON is huge), every failure naming the input and
//! what was expected.

use std::io::Read;
use std::path::Path;

use anyhow::Result;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::pools::{pool_label_keys, pool_of, Pool};

use crate::util::error::Error;

const NODES_EXPECTED: &str =
    "the JSON of `kubectl get nodes -o json` (a v1 List of Nodes, or one Node)";
const PODS_EXPECTED: &str =
    "the JSON of `kubectl get pods -A -o json` (a v1 List of Pods, or one Pod)";
const NODES_WHAT: &str = "a Node list";
const PODS_WHAT: &str = "a Pod list";

// kubectl JSON, reduced to the fields read here (serde skips the rest without allocating).
#[derive(Deserialize)]
struct NodesDoc {
    kind: Option<String>,
    items: Option<Vec<RawNode>>,
    metadata: Option<NodeMeta>,
    status: Option<NodeStatus>,
}

#[derive(Deserialize)]
struct RawNode {
    kind: Option<String>,
    metadata: Option<NodeMeta>,
    status: Option<NodeStatus>,
}

#[derive(Deserialize)]
struct NodeMeta {
    name: Option<String>,
    labels: Option<NodeLabels>,
    annotations: Option<NodeAnnotations>,
}

/// The OS and architecture labels (kubeletless inputs fall back on them).
const OS_ARCH_LABELS: [&str; 4] = [
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
];

/// The key as kept when it is one of the labels read (OS, architecture, pool), else None.
fn kept_label(key: &str) -> Option<&'static str> {
    OS_ARCH_LABELS
        .into_iter()
        .chain(pool_label_keys())
        .find(|k| *k == key)
}

/// The labels read, by key: only those [`kept_label`] keeps (a dozen at most, whatever the
/// node carries); the others are skipped without allocating. A repeated key: the last wins.
#[derive(Debug, Default)]
struct NodeLabels(Vec<(&'static str, String)>);

impl NodeLabels {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A label key, reduced to [`kept_label`]'s answer while it is read.
struct LabelKey(Option<&'static str>);

impl<'de> Deserialize<'de> for LabelKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = LabelKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a label key")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<LabelKey, E> {
                Ok(LabelKey(kept_label(v)))
            }
        }
        d.deserialize_str(Key)
    }
}

impl<'de> Deserialize<'de> for NodeLabels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Labels;
        impl<'de> Visitor<'de> for Labels {
            type Value = NodeLabels;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of labels")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<NodeLabels, A::Error> {
                let mut kept: Vec<(&'static str, String)> = Vec::new();
                while let Some(LabelKey(key)) = map.next_key()? {
                    let Some(key) = key else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    kept.retain(|(k, _)| *k != key);
                    if let Some(v) = map.next_value::<Option<String>>()? {
                        kept.push((key, v));
                    }
                }
                Ok(NodeLabels(kept))
            }
        }
        d.deserialize_map(Labels)
    }
}

#[derive(Deserialize)]
struct NodeAnnotations {
    #[serde(rename = "kubeadm.alpha.kubernetes.io/cri-socket")]
    cri_socket: Option<String>,
}

#[derive(Deserialize)]
struct NodeStatus {
    #[serde(rename = "nodeInfo")]
    node_info: Option<NodeInfo>,
}

#[derive(Deserialize)]
struct NodeInfo {
    #[serde(rename = "kubeletVersion")]
    kubelet_version: Option<String>,
    #[serde(rename = "containerRuntimeVersion")]
    container_runtime_version: Option<String>,
    #[serde(rename = "operatingSystem")]
    operating_system: Option<String>,
    architecture: Option<String>,
}

#[derive(Deserialize)]
struct PodsDoc {
    kind: Option<String>,
    items: Option<Vec<RawPod>>,
    metadata: Option<PodMeta>,
    spec: Option<PodSpec>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawPod {
    pub(super) kind: Option<String>,
    pub(super) metadata: Option<PodMeta>,
    pub(super) spec: Option<PodSpec>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PodMeta {
    pub(super) name: Option<String>,
    pub(super) namespace: Option<String>,
    pub(super) labels: Option<PodLabels>,
    #[serde(rename = "ownerReferences")]
    pub(super) owner_references: Option<Vec<OwnerRef>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PodLabels {
    #[serde(rename = "pod-template-hash")]
    pub(super) pod_template_hash: Option<String>,
}

/// One entry of metadata.ownerReferences.
#[derive(Debug, Clone, Deserialize)]
pub struct OwnerRef {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub controller: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PodSpec {
    #[serde(rename = "nodeName")]
    pub(super) node_name: Option<String>,
    pub(super) volumes: Option<Vec<Volume>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Volume {
    #[serde(rename = "hostPath")]
    pub(super) host_path: Option<HostPath>,
}

#[derive(Debug, Deserialize)]
pub(super) struct HostPath {
    pub(super) path: Option<String>,
}

/// A node as the verdict rules see it.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub kubelet_version: Option<String>,
    pub runtime: Option<String>,
    pub cri_socket: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    /// From the node-group labels; the default without them.
    pub pool: Pool,
}

pub(super) struct Input {
    /// "--nodes file nodes.json" or "--nodes: standard input", for messages.
    pub(super) label: String,
    bytes: Vec<u8>,
}

pub(super) fn input_error(msg: String) -> anyhow::Error {
    Error::Input(msg).into()
}

/// "--nodes file nodes.json" or "--nodes (standard input)", for messages.
fn label(flag: &str, path: &Path) -> String {
    if path == Path::new("-") {
        format!("{flag} (standard input)")
    } else {
        format!("{flag} file {}", path.display())
    }
}

pub(super) fn read_input(flag: &str, path: &Path, expected: &str) -> Result<Input> {
    let label = label(flag, path);
    let read = if path == Path::new("-") {
        read_trimmed(std::io::stdin().lock())
    } else {
        std::fs::File::open(path).and_then(|f| read_trimmed(std::io::BufReader::new(f)))
    };
    match read {
        Ok(bytes) => Ok(Input { label, bytes }),
        Err(e) => Err(input_error(format!(
            "cannot read {label}: {e}; expected {expected}"
        ))),
    }
}

/// How much leading blank space is kept as it is (so parse errors keep their line numbers).
const KEPT_BLANK_HEAD: usize = 64 << 10;

/// Reads everything, except leading blank space beyond [`KEPT_BLANK_HEAD`]: a file of nothing
/// but blanks (or a huge blank head) is read in constant memory.
fn read_trimmed(mut r: impl std::io::BufRead) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(head);
        }
        let blank = buf
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        let keep = blank.min(KEPT_BLANK_HEAD.saturating_sub(head.len()));
        head.extend_from_slice(&buf[..keep]);
        let done = blank < buf.len();
        r.consume(blank);
        if done {
            break;
        }
    }
    r.read_to_end(&mut head)?;
    Ok(head)
}

/// How much of an input is sniffed for being text.
const SNIFFED: usize = 8192;

/// The first [`SNIFFED`] bytes of `b` are UTF-8 (a character cut at the end aside) and, unless
/// `allow_nul`, hold no NUL.
fn head_is_text(b: &[u8], allow_nul: bool) -> bool {
    let head = &b[..b.len().min(SNIFFED)];
    // error_len() None: a character cut by the boundary, not a bad byte.
    let utf8 = std::str::from_utf8(head).map_or_else(|e| e.error_len().is_none(), |_| true);
    utf8 && (allow_nul || !head.contains(&0))
}

/// Checks that the input looks like text: not UTF-16, no NUL (unless `allow_nul`) and valid UTF-8
/// in its first 8 KiB, not blank. Returns the bytes without a UTF-8 BOM. Only the head is sniffed
/// so that a large kubectl dump is read once, by the parser (which rejects bad bytes further on).
fn sniff<'a>(input: &'a Input, expected: &str, allow_nul: bool) -> Result<&'a [u8]> {
    let fail = |what: &str| {
        let label = &input.label;
        Err(input_error(format!("{label} {what}; expected {expected}")))
    };
    let b = input.bytes.as_slice();
    if b.starts_with(&[0xFF, 0xFE]) || b.starts_with(&[0xFE, 0xFF]) {
        return fail("is UTF-16 text (PowerShell's `>` writes that): save it as UTF-8");
    }
    let b = b.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(b);
    if !head_is_text(b, allow_nul) {
        return fail("is a binary file, not text");
    }
    if b.iter().all(|&c| c.is_ascii_whitespace() || c == 0) {
        return fail("is empty");
    }
    Ok(b)
}

/// The whole input as text (for the small kubelet files).
pub(super) fn text<'a>(input: &'a Input, expected: &str, allow_nul: bool) -> Result<&'a str> {
    let b = sniff(input, expected, allow_nul)?;
    std::str::from_utf8(b).map_err(|_| {
        let label = &input.label;
        input_error(format!(
            "{label} is a binary file, not text; expected {expected}"
        ))
    })
}

fn parse_json<T: DeserializeOwned>(input: &Input, expected: &str, what: &str) -> Result<T> {
    let b = sniff(input, expected, false)?;
    let label = &input.label;
    let first = b.iter().find(|c| !c.is_ascii_whitespace()).copied();
    if first == Some(b'[') {
        return Err(input_error(format!(
            "{label} is a JSON array, not {what}; expected {expected}"
        )));
    }
    serde_json::from_slice(b).map_err(|e| {
        use serde_json::error::Category;
        let msg = match e.classify() {
            Category::Eof => format!("{label} is truncated: its JSON ends early ({e})"),
            Category::Syntax if first != Some(b'{') => {
                format!("{label} is not JSON ({e}); `kubectl ... -o yaml` output is not accepted")
            }
            Category::Syntax => format!("{label} is not valid JSON ({e})"),
            Category::Data | Category::Io => format!("{label} is JSON but not {what} ({e})"),
        };
        input_error(format!("{msg}; expected {expected}"))
    })
}

/// Splits a List (kind List or `want`List) or a single `want` object into items.
fn list_items<T>(
    input: &Input,
    kind: Option<&str>,
    items: Option<Vec<T>>,
    single: impl FnOnce() -> T,
    want: &str,
    expected: &str,
) -> Result<Vec<T>> {
    let list_kind = format!("{want}List");
    match (kind, items) {
        (Some(k), Some(items)) if k == "List" || k == list_kind => Ok(items),
        (None, Some(items)) => Ok(items),
        (Some(k), None) if k == want => Ok(vec![single()]),
        (Some(k), None) if k == "List" || k == list_kind => Err(input_error(format!(
            "{} is a {k} without \"items\"; expected {expected}",
            input.label
        ))),
        (Some(k), _) => Err(input_error(format!(
            "{} holds a {k}, not {want}s; expected {expected}",
            input.label
        ))),
        (None, None) => Err(input_error(format!(
            "{} is JSON but has no \"kind\" or \"items\"; expected {expected}",
            input.label
        ))),
    }
}

fn check_item_kind(
    input: &Input,
    i: usize,
    kind: Option<&str>,
    want: &str,
    expected: &str,
) -> Result<()> {
    match kind {
        Some(k) if k != want => Err(input_error(format!(
            "{}: item {i} is a {k}, not a {want}; expected {expected}",
            input.label
        ))),
        _ => Ok(()),
    }
}

fn to_node(
    input: &Input,
    i: usize,
    meta: Option<NodeMeta>,
    status: Option<NodeStatus>,
) -> Result<Node> {
    let meta = meta.ok_or_else(|| {
        input_error(format!(
            "{}: item {i} has no metadata; expected {NODES_EXPECTED}",
            input.label
        ))
    })?;
    let name = meta.name.filter(|n| !n.is_empty()).ok_or_else(|| {
        input_error(format!(
            "{}: item {i} has no metadata.name; expected {NODES_EXPECTED}",
            input.label
        ))
    })?;
    let info = status.and_then(|s| s.node_info);
    let (kubelet_version, runtime, info_os, info_arch) = match info {
        Some(n) => (
            n.kubelet_version,
            n.container_runtime_version,
            n.operating_system,
            n.architecture,
        ),
        None => (None, None, None, None),
    };
    let labels = meta.labels.unwrap_or_default();
    let label = |k: &str| labels.get(k).map(str::to_string);
    let label_os = label(OS_ARCH_LABELS[0]).or_else(|| label(OS_ARCH_LABELS[2]));
    let label_arch = label(OS_ARCH_LABELS[1]).or_else(|| label(OS_ARCH_LABELS[3]));
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    Ok(Node {
        name,
        kubelet_version: nonempty(kubelet_version),
        runtime: nonempty(runtime),
        cri_socket: nonempty(meta.annotations.and_then(|a| a.cri_socket)),
        os: nonempty(info_os).or(nonempty(label_os)),
        arch: nonempty(info_arch).or(nonempty(label_arch)),
        pool: pool_of(|k| labels.get(k)),
    })
}

/// A kubectl document that is a List of `Item`s (or one item): what [`load_list`] reads.
trait ListDoc: DeserializeOwned {
    type Item: DeserializeOwned + Send;
    fn set_items(&mut self, items: Vec<Self::Item>);
    /// An item with only what detect reads of it (applied as each item is parsed).
    fn keep(item: Self::Item) -> Self::Item {
        item
    }
}

impl ListDoc for NodesDoc {
    type Item = RawNode;
    fn set_items(&mut self, items: Vec<RawNode>) {
        self.items = Some(items);
    }
}

impl ListDoc for PodsDoc {
    type Item = RawPod;
    fn set_items(&mut self, items: Vec<RawPod>) {
        self.items = Some(items);
    }
    fn keep(pod: RawPod) -> RawPod {
        slim_pod(pod)
    }
}

/// A pod without a hostPath volume matters only by its node (the single-node check counts pods
/// per node) and its kind (checked later): its metadata and volumes are dropped as soon as it
/// is parsed, so 500,000 pods cost their node names, not their documents. (Which hostPaths
/// expose the Docker socket is `rules`' to say, on what is kept.)
fn slim_pod(pod: RawPod) -> RawPod {
    let host_path = |spec: &PodSpec| {
        spec.volumes
            .iter()
            .flatten()
            .any(|v| v.host_path.as_ref().is_some_and(|h| h.path.is_some()))
    };
    match pod.spec {
        Some(spec) if host_path(&spec) => RawPod {
            spec: Some(spec),
            ..pod
        },
        spec => RawPod {
            kind: pod.kind,
            metadata: None,
            spec: spec.map(|s| PodSpec {
                node_name: s.node_name,
                volumes: None,
            }),
        },
    }
}

/// Reads `FLAG FILE|-` (which should hold `expected`, `what` for short): a big regular file
/// through the streaming reader (its items parsed on every core), anything else (or any
/// surprise) through the whole-document parser, whose errors say what is wrong; then
/// `from_doc` checks and converts.
fn load_list<D: ListDoc, T>(
    (flag, expected, what): (&str, &str, &str),
    path: &Path,
    from_doc: impl Fn(&Input, D) -> Result<T>,
) -> Result<T> {
    if let Some((skeleton, items)) = fast_list::<D::Item>(path, D::keep) {
        if let Ok(mut doc) = serde_json::from_slice::<D>(&skeleton) {
            doc.set_items(items);
            let input = Input {
                label: label(flag, path),
                bytes: Vec::new(),
            };
            return from_doc(&input, doc);
        }
    }
    let input = read_input(flag, path, expected)?;
    from_doc(&input, parse_json(&input, expected, what)?)
}

/// The nodes of `--nodes FILE|-`.
pub(super) fn load_nodes(path: &Path) -> Result<Vec<Node>> {
    load_list(("--nodes", NODES_EXPECTED, NODES_WHAT), path, nodes_from)
}

/// The pods of `--pods FILE|-`.
pub(super) fn load_pods(path: &Path) -> Result<Vec<RawPod>> {
    load_list(("--pods", PODS_EXPECTED, PODS_WHAT), path, pods_from)
}

/// Both readers over the same bytes, for the fuzz target: the streaming reader's answer
/// (`None` where it gives up and the whole-document reader takes over) and the
/// whole-document reader's, as text. Where the streaming reader answers, the two must agree.
fn both_ways<D: ListDoc, T: std::fmt::Debug>(
    bytes: &[u8],
    from_doc: impl Fn(&Input, D) -> Result<T>,
) -> (Option<String>, String) {
    let input = Input {
        label: "fuzz".into(),
        bytes: bytes.to_vec(),
    };
    let show = |r: Result<T>| match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("error: {e:#}"),
    };
    let streamed = stream_list::<D::Item>(bytes, D::keep).and_then(|(skeleton, items)| {
        let mut doc = serde_json::from_slice::<D>(&skeleton).ok()?;
        doc.set_items(items);
        Some(show(from_doc(&input, doc)))
    });
    let whole = show(parse_json(&input, "fuzz input", "a list").and_then(|d| from_doc(&input, d)));
    (streamed, whole)
}

/// [`both_ways`] for node lists and for pod lists.
pub(super) fn lists_both_ways(bytes: &[u8]) -> [(Option<String>, String); 2] {
    [both_ways(bytes, nodes_from), both_ways(bytes, pods_from)]
}

/// A regular file through the streaming reader; None for standard input or on any surprise.
fn fast_list<T: DeserializeOwned + Send>(
    path: &Path,
    keep: fn(T) -> T,
) -> Option<(Vec<u8>, Vec<T>)> {
    if path == Path::new("-") {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    stream_list(std::io::BufReader::with_capacity(1 << 20, file), keep)
}

/// The streaming reader, after the same sniff the whole-document reader makes: input that
/// reader would refuse (UTF-16, a BOM, not text in its head) is left to it (None), so both
/// answer alike.
fn stream_list<T: DeserializeOwned + Send>(
    mut reader: impl std::io::BufRead,
    keep: fn(T) -> T,
) -> Option<(Vec<u8>, Vec<T>)> {
    let mut head = Vec::with_capacity(SNIFFED);
    (&mut reader)
        .take(SNIFFED as u64)
        .read_to_end(&mut head)
        .ok()?;
    let bom = head.starts_with(&[0xEF, 0xBB, 0xBF])
        || head.starts_with(&[0xFF, 0xFE])
        || head.starts_with(&[0xFE, 0xFF]);
    if bom || !head_is_text(&head, false) {
        return None;
    }
    super::stream::read_list(std::io::Cursor::new(head).chain(reader), keep)
}

fn nodes_from(input: &Input, doc: NodesDoc) -> Result<Vec<Node>> {
    let (meta, status) = (doc.metadata, doc.status);
    let single = || RawNode {
        kind: None,
        metadata: meta,
        status,
    };
    let raw = list_items(
        input,
        doc.kind.as_deref(),
        doc.items,
        single,
        "Node",
        NODES_EXPECTED,
    )?;
    let mut nodes = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        check_item_kind(input, i, r.kind.as_deref(), "Node", NODES_EXPECTED)?;
        nodes.push(to_node(input, i, r.metadata, r.status)?);
    }
    Ok(nodes)
}

fn pods_from(input: &Input, doc: PodsDoc) -> Result<Vec<RawPod>> {
    let (metadata, spec) = (doc.metadata, doc.spec);
    let single = || RawPod {
        kind: None,
        metadata,
        spec,
    };
    let pods = list_items(
        input,
        doc.kind.as_deref(),
        doc.items,
        single,
        "Pod",
        PODS_EXPECTED,
    )?;
    for (i, p) in pods.iter().enumerate() {
        check_item_kind(input, i, p.kind.as_deref(), "Pod", PODS_EXPECTED)?;
    }
    // The same pods whichever reader read them (the streaming one slims them as it parses).
    Ok(pods.into_iter().map(slim_pod).collect())
}

#[cfg(test)]
mod tests;

//! Hostile sizes: headers that claim more than the file holds, or more than any real model, are
//! refused before anything of that size is allocated; an over-long line is refused while the
//! file is read. Each input is built byte by byte here, so the claims are exactly the ones the
//! issue names (10¹² elements, offsets past the end, a 1 GB JSON header, a 100 MB line).
#![allow(clippy::err_expect)] // Checkpoint and Dataset are not Debug.

use curlora::data::LoadOptions;
use curlora::data::generic::{GenericSpec, TableFormat, read_generic};
use curlora::model::gguf::GgufFile;
use curlora::model::store;
use curlora::model::weights::Checkpoint;
use std::io::Write;
use std::path::{Path, PathBuf};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("curlora-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// This process's peak resident memory (VmHWM), in bytes; Linux only.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A safetensors file: the 8-byte header length, then the JSON header, then `data` bytes.
fn safetensors(header: &str, data: usize) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.resize(out.len() + data, 0);
    out
}

#[test]
fn safetensors_claiming_a_trillion_elements_is_refused() {
    let n = 4_000_000_000_000u64; // 10¹² f32 values
    let header =
        format!(r#"{{"w":{{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,{n}]}}}}"#);
    let path = Path::new("huge.safetensors");
    let err = Checkpoint::from_bytes(path, safetensors(&header, 16))
        .err()
        .expect("a trillion-element tensor in a 16-byte payload must be refused")
        .to_string();
    assert!(err.contains("huge.safetensors"), "{err}");
    assert!(err.contains("not a valid safetensors file"), "{err}");
}

#[test]
fn safetensors_offsets_past_the_end_are_refused() {
    // Shape and offsets agree (4 × 4 bytes), but the file holds 8 bytes of data.
    let header = r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
    let err = Checkpoint::from_bytes(Path::new("short.safetensors"), safetensors(header, 8))
        .err()
        .expect("offsets past the end must be refused")
        .to_string();
    assert!(err.contains("short.safetensors"), "{err}");
    // And the same file with its 16 bytes opens: the check is not refusing everything.
    let ok = Checkpoint::from_bytes(Path::new("ok.safetensors"), safetensors(header, 16));
    assert!(ok.is_ok(), "{:?}", ok.err());
}

/// A GGUF v3 file with one F32 tensor of `dims` at data offset `offset` and `data` bytes.
fn gguf(dims: &[u64], offset: u64, data: usize) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&1u64.to_le_bytes()); // tensors
    out.extend_from_slice(&0u64.to_le_bytes()); // metadata pairs
    let name = b"blk.0.attn_q.weight";
    out.extend_from_slice(&(name.len() as u64).to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    for d in dims {
        out.extend_from_slice(&d.to_le_bytes());
    }
    out.extend_from_slice(&0u32.to_le_bytes()); // GGML_TYPE_F32
    out.extend_from_slice(&offset.to_le_bytes());
    out.resize(out.len().next_multiple_of(32) + data, 0);
    out
}

#[test]
fn gguf_claiming_a_trillion_elements_is_refused_at_open() {
    let before = peak_rss();
    let err = GgufFile::from_bytes(Path::new("huge.gguf"), gguf(&[1_000_000, 1_000_000], 0, 64))
        .err()
        .expect("a trillion-element tensor must be refused")
        .to_string();
    assert!(
        err.contains("huge.gguf") && err.contains("blk.0.attn_q.weight"),
        "{err}"
    );
    assert!(err.contains("beyond the end of the file"), "{err}");
    if let (Some(a), Some(b)) = (before, peak_rss()) {
        assert!(
            b.saturating_sub(a) < 256 << 20,
            "peak memory grew by {} bytes",
            b - a
        );
    }
    // 4 × 4 elements in 64 bytes: fine.
    assert!(GgufFile::from_bytes(Path::new("ok.gguf"), gguf(&[4, 4], 0, 64)).is_ok());
}

#[test]
fn gguf_offsets_past_the_end_are_refused_at_open() {
    let err = GgufFile::from_bytes(Path::new("off.gguf"), gguf(&[4], 1 << 40, 16))
        .err()
        .expect("an offset past the end must be refused")
        .to_string();
    assert!(
        err.contains("off.gguf") && err.contains("beyond the end"),
        "{err}"
    );
    let err = GgufFile::from_bytes(Path::new("wrap.gguf"), gguf(&[4], u64::MAX - 31, 16))
        .err()
        .expect("an offset that wraps around must be refused")
        .to_string();
    assert!(err.contains("wrap.gguf"), "{err}");
}

#[test]
fn an_adapter_with_a_one_gigabyte_json_header_is_refused_without_reading_it() {
    let path = temp("big-header.safetensors");
    let claim = 1u64 << 30;
    {
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&claim.to_le_bytes()).unwrap();
        f.write_all(b"{\"__metadata__\":{").unwrap();
        // Sparse: the file really is over 1 GB long, but takes no disk and is never read.
        f.set_len(claim + 64).unwrap();
    }
    let before = peak_rss();
    let err = store::read_meta(&path)
        .err()
        .expect("must be refused")
        .to_string();
    assert!(err.contains("big-header.safetensors"), "{err}");
    assert!(
        err.contains(&format!("{claim} bytes")) && err.contains("16 MiB"),
        "{err}"
    );
    if let (Some(a), Some(b)) = (before, peak_rss()) {
        assert!(
            b.saturating_sub(a) < 64 << 20,
            "peak memory grew by {} bytes",
            b - a
        );
    }
    // A header that claims more than the file holds.
    let short = temp("short-header.safetensors");
    std::fs::write(&short, [&200u64.to_le_bytes()[..], b"{}"].concat()).unwrap();
    let err = store::read_meta(&short)
        .err()
        .expect("must be refused")
        .to_string();
    assert!(err.contains("past the end of the 10-byte file"), "{err}");
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(short);
}

#[test]
fn a_100_mb_single_line_csv_is_refused_in_bounded_memory() {
    let path = temp("one-line.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(b"text,label\n").unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b",1\n").unwrap();
    }
    let before = peak_rss();
    let spec = GenericSpec::new(TableFormat::Csv, "text", "label");
    let err = read_generic(&path, &spec, &LoadOptions::default())
        .err()
        .expect("a 100 MB line must be refused")
        .to_string();
    assert!(
        err.contains("one-line.csv") && err.contains("line 2"),
        "{err}"
    );
    assert!(err.contains("1 MiB"), "{err}");
    if let (Some(a), Some(b)) = (before, peak_rss()) {
        // The whole file is 100 MB; the reader stops after ~1 MiB.
        assert!(
            b.saturating_sub(a) < 32 << 20,
            "peak memory grew by {} bytes",
            b - a
        );
    }
    // Long but legal lines (100 KB) still load.
    let ok = temp("long-lines.csv");
    let text = format!(
        "text,label\n{},1\n{},0\n",
        "y".repeat(100_000),
        "z".repeat(100_000)
    );
    std::fs::write(&ok, text).unwrap();
    let (ds, _) = read_generic(&ok, &spec, &LoadOptions::default()).unwrap();
    assert_eq!(ds.examples.len(), 2);
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(ok);
}

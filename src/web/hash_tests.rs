//! The link format: parsing, round trips, and the warnings for bad keys and values.

use super::*;

#[test]
fn empty_hash_is_the_quick_preset() {
    let s = LinkState::parse("");
    assert_eq!(s.preset, Preset::Quick);
    assert_eq!(s.setup.max_rows, Some(160));
    assert_eq!(s.tier, TierRequest::Auto);
    assert!(s.warnings.is_empty());
}

#[test]
fn every_key_is_read() {
    let s = LinkState::parse(
        "#preset=default&seed=7&methods=curlora,full&rank=4&alpha=2.5&lr=0.001&epochs=3\
         &rows=50&classroom=1&tier=cpu&tab=selection",
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.preset, Preset::Default);
    let u = &s.setup;
    assert_eq!((u.seed, u.rank, u.epochs), (7, 4, 3));
    assert_eq!((u.alpha, u.lr), (2.5, 0.001));
    assert_eq!(u.methods, vec![Method::CurLora, Method::Full]);
    assert_eq!(u.max_rows, Some(50));
    assert!(u.classroom);
    assert_eq!(s.tier, TierRequest::Cpu);
    assert_eq!(s.tab.name(), "selection");
}

/// The ablation keys read, round-trip, and are refused with the expected values listed.
#[test]
fn ablation_keys_round_trip() {
    let s = LinkState::parse("#sampling=uniform&u_init=normal:0.05&cur=gaussian");
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let u = &s.setup;
    assert_eq!(
        (u.selection_mode, u.u_init_sigma, u.gaussian_cur),
        (SelectionMode::Uniform, Some(0.05), true)
    );
    let hash = s.to_hash(&s.setup);
    assert_eq!(LinkState::parse(&hash), s, "{hash}");
    assert!(
        !LinkState::parse("#seed=1")
            .to_hash(&Setup::default())
            .contains("sampling")
    );
    let bad = LinkState::parse("#sampling=random&u_init=normal:-1&cur=noise");
    assert_eq!(bad.warnings.len(), 3, "{:?}", bad.warnings);
    assert!(
        bad.warnings
            .iter()
            .any(|w| w.contains("inverted, standard, uniform"))
    );
    assert!(
        bad.warnings
            .iter()
            .any(|w| w.contains("expected `zero` or `normal:σ`"))
    );
    assert!(bad.warnings.iter().any(|w| w.contains("weights, gaussian")));
}

#[test]
fn a_link_round_trips() {
    let s = LinkState::parse("#preset=default&seed=3&methods=lora&rank=2&rows=all&tier=replay");
    let hash = s.to_hash(&s.setup);
    let again = LinkState::parse(&hash);
    assert_eq!(again, s, "{hash}");
    assert!(
        hash.contains("rows=all") && hash.contains("tier=replay"),
        "{hash}"
    );
}

#[test]
fn preset_applies_before_other_keys_whatever_the_order() {
    // `rows` comes first but the preset must not overwrite it.
    let s = LinkState::parse("rows=20&preset=default");
    assert_eq!(s.setup.max_rows, Some(20));
    assert_eq!(s.preset, Preset::Default);
}

#[test]
fn bad_values_are_reported_and_keep_the_rest() {
    let s = LinkState::parse("#rank=zero&alpha=-1&methods=lora,dora&bogus=1&seed=9&tab=x");
    assert_eq!(s.setup.seed, 9);
    assert_eq!(s.setup.rank, Setup::default().rank);
    assert_eq!(s.setup.alpha, Setup::default().alpha);
    assert_eq!(
        s.setup.methods,
        Setup::default().methods,
        "methods unchanged"
    );
    assert_eq!(s.warnings.len(), 5, "{:?}", s.warnings);
    assert!(s.warnings.iter().any(|w| w.contains("rank=`zero`")));
    assert!(s.warnings.iter().any(|w| w.contains("`dora`")));
    assert!(s.warnings.iter().any(|w| w.contains("`bogus`")));
}

#[test]
fn percent_escapes_are_decoded() {
    assert_eq!(decode("a%2Cb+c"), "a,b c");
    assert_eq!(decode("100%"), "100%");
    let s = LinkState::parse("methods=lora%2Ccurlora&seed=%34%32");
    assert_eq!(s.setup.seed, 42);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

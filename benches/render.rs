//! Parse + walk + resolve (environment) + render of configs with 1,000 and 10,000 references.
//!
//! Run with `cargo bench --bench render`; results are recorded in BENCHMARKS.md.

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use osenv::environment::DotenvFile;
use osenv::plan::Scope;
use osenv::render::yaml::{self, RenderOptions};
use osenv::resolve::Purpose;
use osenv::{Document, Environment, Session};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;

/// A LiteLLM config with `n` models, each with one reference (half of them shared names).
fn config(n: usize) -> (String, Vec<(String, String)>) {
    let mut text = String::from("# generated\nmodel_list:\n");
    let mut env = Vec::new();
    for i in 0..n {
        let _ = write!(
            text,
            "  - model_name: model-{i}\n    litellm_params:\n      model: openai/gpt-{i}\n      api_key: os.environ/KEY_{i}  # key {i}\n"
        );
        env.push((format!("KEY_{i}"), format!("sk-{i:08}-value: with # specials")));
    }
    text.push_str("general_settings:\n  master_key: os.environ/KEY_0\n");
    (text, env)
}

fn pipeline(text: &str, env: &Arc<Environment>, rt: &tokio::runtime::Runtime) -> usize {
    let doc = Document::parse("bench.yaml", text.to_owned()).expect("valid");
    let session = Session::new(doc, Arc::clone(env)).expect("valid");
    let plan = session.plan(Scope::References(session.references()));
    let resolution = rt.block_on(session.resolve(plan, Purpose::Read));
    let out = yaml::render(
        session.document(),
        session.references(),
        |r| resolution.value(&r.name),
        RenderOptions::default(),
    );
    out.text.len()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("render_from_environment");
    for n in [1_000, 10_000] {
        let (text, vars) = config(n);
        let env = Arc::new(Environment::new(vars, vec![]));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| black_box(pipeline(text, &env, &rt)));
        });
    }
    group.finish();

    // The same inputs, parse only: how much of the pipeline the YAML parser takes.
    let mut group = c.benchmark_group("parse_only");
    for n in [1_000, 10_000] {
        let (text, _) = config(n);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| black_box(Document::parse("bench.yaml", text.clone()).expect("valid").len()));
        });
    }
    group.finish();

    // A large --env-file: parsing stays linear in its lines.
    let mut group = c.benchmark_group("dotenv_parse");
    let n = 10_000;
    let text = (0..n).fold(String::new(), |mut text, i| {
        let _ = writeln!(text, "KEY_{i}='sk-{i:08}'");
        text
    });
    group.throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| black_box(DotenvFile::parse(".env", &text).expect("valid").path().len()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

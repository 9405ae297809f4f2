//! Every case of the table against axum, Rocket and Poem.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_adapter_gives_every_case_the_same_answer() {
    conformance::runner::run_suite(&conformance::adapters::all(), conformance::cases::cases())
        .await;
}

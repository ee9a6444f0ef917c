use super::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ptp-broker-registry-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn broker() -> Broker {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::mem::forget(rx);
    Broker::with_epoch(3, tx)
}

fn load(dir: &Path) -> Result<Subscriptions, String> {
    let declared = crate::sink::spec::declared(
        &[Spec {
            id: Some("declared".into()),
            uri: "http://127.0.0.1:9/x".into(),
            ..Spec::default()
        }],
        "n1",
    )?;
    Subscriptions::load(broker(), dir, "n1".into(), declared)
}

#[tokio::test]
async fn run_time_subscriptions_are_saved_and_read_back() {
    let dir = temp_dir("saved");
    let subs = load(&dir).unwrap();
    let added = subs
        .subscribe(Spec {
            uri: "tcp:127.0.0.1:9".into(),
            ..Spec::default()
        })
        .unwrap();
    let id = added.subscription.id.clone().unwrap();
    assert!(id.starts_with("s-"));
    assert!(
        subs.subscribe(added.subscription.clone())
            .unwrap_err()
            .contains("exists")
    );
    assert!(
        subs.unsubscribe("declared")
            .unwrap_err()
            .contains("config file")
    );
    assert!(subs.unsubscribe("nope").is_err());
    let again = load(&dir).unwrap();
    let ids: Vec<_> = again
        .list()
        .into_iter()
        .map(|l| l.subscription.id.unwrap())
        .collect();
    assert_eq!(ids, ["declared".to_owned(), id.clone()]);
    again.unsubscribe(&id).unwrap();
    let third = load(&dir).unwrap();
    assert_eq!(third.list().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_broken_state_file_fails_the_start_with_its_name() {
    let dir = temp_dir("broken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(FILE), b"{not json").unwrap();
    let err = load(&dir).err().unwrap();
    assert!(err.contains(FILE), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

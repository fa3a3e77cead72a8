//! The ledger's contract, on SQLite always and on PostgreSQL where `.ci/run` starts one
//! (`TRACEMARK_TEST_POSTGRES`, an empty database's URL).

use tracemark_ledger::{Backend, Ledger, LedgerError, RequestRow};

fn row(id: &str, account: &str, at: i64) -> RequestRow {
    RequestRow {
        request_id: id.to_string(),
        account: account.to_string(),
        created_ms: at,
        model: "SmolLM2-135M-Instruct".to_string(),
        watermark_key_id: Some("3f2a9c".to_string()),
        prompt_tokens: 12,
        completion_tokens: 40,
        finish_reason: "stop".to_string(),
        answer_sha256: "ab".repeat(32),
    }
}

/// Accounts, keys, revocation and request rows, on an empty ledger at `location`.
async fn contract(location: &str) {
    let ledger = Ledger::open(location).await.unwrap();
    let alice = ledger.create_account("alice").await.unwrap();
    let bob = ledger.create_account("bob ü").await.unwrap();
    assert!(matches!(
        ledger.create_account("alice").await,
        Err(LedgerError::AccountExists(_))
    ));
    assert!(ledger.create_account("a\nb").await.is_err());

    let who = ledger.authenticate(alice.expose()).await.unwrap().unwrap();
    assert_eq!(who.account, "alice");
    assert_eq!(
        ledger
            .authenticate(bob.expose())
            .await
            .unwrap()
            .unwrap()
            .account,
        "bob ü"
    );
    assert!(ledger.authenticate("tmk_wrong").await.unwrap().is_none());

    let listed = ledger.list_accounts().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].account, "alice");
    assert_eq!(listed[0].key_id, who.key_id);
    assert!(listed.iter().all(|a| a.revoked_ms.is_none()));

    ledger.revoke("alice").await.unwrap();
    assert!(ledger.authenticate(alice.expose()).await.unwrap().is_none());
    assert!(matches!(
        ledger.revoke("alice").await,
        Err(LedgerError::AlreadyRevoked(_))
    ));
    assert!(matches!(
        ledger.revoke("mallory").await,
        Err(LedgerError::UnknownAccount(_))
    ));

    ledger
        .record(&row("chatcmpl-1", "bob ü", 10))
        .await
        .unwrap();
    ledger
        .record(&row("chatcmpl-2", "alice", 11))
        .await
        .unwrap();
    ledger
        .record(&row("chatcmpl-3", "bob ü", 12))
        .await
        .unwrap();
    assert!(
        ledger
            .record(&row("chatcmpl-3", "bob ü", 13))
            .await
            .is_err(),
        "request ids are unique"
    );
    assert_eq!(ledger.served_accounts().await.unwrap(), ["alice", "bob ü"]);

    // A second handle (another replica) sees the same state, and both write at once.
    let replica = Ledger::open(location).await.unwrap();
    assert!(
        replica
            .authenticate(alice.expose())
            .await
            .unwrap()
            .is_none()
    );
    let writes = |l: Ledger, tag: &'static str| async move {
        for i in 0..50 {
            l.record(&row(&format!("{tag}-{i}"), tag, 100 + i))
                .await
                .unwrap();
        }
    };
    tokio::join!(writes(ledger.clone(), "r1"), writes(replica.clone(), "r2"));
    let rows = replica.requests().await.unwrap();
    assert_eq!(rows.len(), 103);
    assert_eq!(rows[0], row("chatcmpl-1", "bob ü", 10));
    ledger.close().await;
    replica.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ledger_keeps_its_contract_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger dir").join("ledger.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let location = path.to_str().unwrap();
    contract(location).await;
    let reopened = Ledger::open(location).await.unwrap();
    assert_eq!(reopened.backend(), Backend::Sqlite);
    assert_eq!(reopened.requests().await.unwrap().len(), 103);
    let text = std::fs::read(&path).unwrap();
    assert!(
        !String::from_utf8_lossy(&text).contains("tmk_"),
        "an API key was stored in the clear"
    );
    let err = Ledger::open("/nonexistent-dir/ledger.db")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-dir/ledger.db"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: .ci/run sets TRACEMARK_TEST_POSTGRES and runs it"]
async fn postgres_ledger_keeps_its_contract() {
    let url = std::env::var("TRACEMARK_TEST_POSTGRES")
        .expect("TRACEMARK_TEST_POSTGRES=postgres://… names an empty database");
    contract(&url).await;
    assert_eq!(
        Ledger::open(&url).await.unwrap().backend(),
        Backend::Postgres
    );
}

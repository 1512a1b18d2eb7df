//! Cassandra for tests: the `kassandra` in-memory CQL v4 server, or the cluster named by
//! `CASSANDRA_CONTACT_POINTS`.
//!
//! The stand-in runs on its own thread with a single-threaded runtime (its session is not `Send`),
//! so it outlives any one test runtime and serves every connection the driver opens.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::thread::JoinHandle;

use futures::{SinkExt, StreamExt};
use kassandra::error::DbError;
use kassandra::frame::request::Request;
use kassandra::frame::response::error::Error as CqlError;
use kassandra::frame::response::Response;
use kassandra::frame::{request_stream, response_sink};
use kassandra::KassandraSession;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A Cassandra endpoint for one test.
pub struct TestCassandra {
    contact_point: String,
    server: Option<Server>,
}

struct Server {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl TestCassandra {
    /// Uses `CASSANDRA_CONTACT_POINTS` when set, else starts the kassandra stand-in on 127.0.0.1.
    pub fn start() -> TestCassandra {
        if let Ok(points) = std::env::var("CASSANDRA_CONTACT_POINTS") {
            if !points.trim().is_empty() {
                return TestCassandra {
                    contact_point: points,
                    server: None,
                };
            }
        }
        TestCassandra::standin_on("127.0.0.1:0")
    }

    /// Starts the kassandra stand-in listening on `bind` (`host:port`; port 0 picks a free one).
    pub fn standin_on(bind: &str) -> TestCassandra {
        let bind = bind.to_string();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("kassandra".into())
            .spawn(move || serve(&bind, addr_tx, stop_rx))
            .expect("spawn the kassandra thread");
        let addr: SocketAddr = addr_rx.recv().expect("kassandra bound a port");
        TestCassandra {
            contact_point: addr.to_string(),
            server: Some(Server {
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
        }
    }

    /// `host:port` to give the driver.
    pub fn contact_point(&self) -> &str {
        &self.contact_point
    }

    /// True for the in-memory stand-in (which ignores `LIMIT` and clustering order).
    pub fn is_standin(&self) -> bool {
        self.server.is_some()
    }
}

fn serve(bind: &str, addr_tx: std::sync::mpsc::Sender<SocketAddr>, stop: oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("kassandra runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(bind).await.expect("bind kassandra");
        addr_tx
            .send(listener.local_addr().expect("kassandra address"))
            .expect("report address");
        let session = Rc::new(RefCell::new(KassandraSession::new()));
        let accept = async {
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    tokio::task::spawn_local(connection(stream, session.clone()));
                }
            }
        };
        tokio::select! {
            () = accept => {},
            _ = stop => {},
        }
    });
}

async fn connection(mut stream: TcpStream, session: Rc<RefCell<KassandraSession>>) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.split();
    let mut requests = request_stream(read);
    let mut responses = response_sink(write);
    while let Some(Ok((frame, opcode, data))) = requests.next().await {
        let response = match Request::deserialize(opcode, &data, frame.flags) {
            Ok(request) => answer(&session, request),
            Err(_) => Response::Error(CqlError::new(
                DbError::ProtocolError,
                "cannot parse the request",
            )),
        };
        if responses.send((response, frame.stream)).await.is_err() {
            break;
        }
    }
}

fn answer(session: &RefCell<KassandraSession>, request: Request<'_>) -> Response {
    let mut session = session.borrow_mut();
    let result = match request {
        Request::StartUp(_) | Request::Register { .. } => return Response::Ready,
        Request::Options => return Response::options(),
        Request::AuthResponse => {
            return Response::Error(CqlError::new(
                DbError::ProtocolError,
                "authentication is not supported",
            ))
        }
        Request::Query(query) => session.process(query),
        Request::Prepare(query) => session.prepare(query),
        Request::Execute(execute) => session.execute(execute),
        Request::Batch(batch) => session.process_batch(batch),
    };
    match result {
        Ok(result) => Response::Result(result),
        Err(error) => Response::Error(error),
    }
}

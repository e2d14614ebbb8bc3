//! The benchmark's baseline: the smallest axum server, answering `GET /hello` on the address
//! given as the first argument (default `127.0.0.1:0`); prints the bound address.

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("{}", listener.local_addr()?);
    let app = Router::new().route("/hello", get(|| async { "hello" }));
    axum::serve(listener, app).await
}

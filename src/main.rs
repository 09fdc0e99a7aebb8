fn main() -> std::process::ExitCode {
    bttrace::cli::main()
}

// `pupembed`: a thin front end over the library; each subcommand lives in its own cmd_*.cpp.

#include <algorithm>
#include <iostream>

#include "common.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/core/runtime.hpp"
#include "pupembed/core/version.hpp"

namespace {

int fail(std::string message) {
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << "pupembed: error: " << message << "\n";
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    pupembed::configure_process(argv);

    CLI::App app{"pupembed: turns dog photos into embeddings and answers questions with them.\n"
                 "Run `pupembed COMMAND --help` for the options of a command."};
    app.name("pupembed");
    app.set_version_flag("--version", std::string("pupembed ") + pupembed::version());
    app.require_subcommand(1);
    app.fallthrough(false);
    pupembed::cli::register_import_imagenet(app);
    pupembed::cli::register_info(app);
    pupembed::cli::register_lists(app);
    pupembed::cli::register_predict(app);
    pupembed::cli::register_eval(app);
    pupembed::cli::register_train_classifier(app);
    pupembed::cli::register_extract(app);
    pupembed::cli::register_train_siamese(app);
    pupembed::cli::register_embed(app);
    pupembed::cli::register_export(app);
    pupembed::cli::register_breed(app);
    pupembed::cli::register_index(app);
    pupembed::cli::register_similar(app);
    pupembed::cli::register_search(app);
    pupembed::cli::register_algebra(app);
    pupembed::cli::register_dedup(app);
    pupembed::cli::register_serve(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;  // a usage error
    } catch (const pupembed::Error& e) {
        pupembed::cli::finish_progress();
        return fail(e.what());
    } catch (const std::exception& e) {
        pupembed::cli::finish_progress();
        return fail(e.what());
    }
    return 0;
}

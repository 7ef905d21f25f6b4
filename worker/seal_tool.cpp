// webhook-worker-seal: test and admin helper. Seals each line of stdin with the AES-256-GCM
// key file (the module's WebhookSecretKeyFile), printing one sealed value per line, e.g. to
// put an endpoint row into MariaDB by hand. A value is sealed for one column of one endpoint
// row (its numeric id): it opens only there. With several ids, each line is sealed once per
// id, in the order given (one line each). --v1 writes the former format without associated
// data, as an older release did (upgrade tests). With --generate-secret it prints a new
// "whsec_…" signing secret instead. Not installed; built beside webhook-worker.
#include <iostream>
#include <string>
#include <vector>

#include "crypto.hpp"
#include "parse.hpp"

namespace {

int usage() {
    std::cerr << "usage: webhook-worker-seal KEYFILE (secret_enc|password_enc) ENDPOINT_ID... < plaintext-lines\n"
                 "       webhook-worker-seal KEYFILE --v1 < plaintext-lines\n"
                 "       webhook-worker-seal --generate-secret\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string arg1 = argc > 1 ? argv[1] : "", arg2 = argc > 2 ? argv[2] : "";
    if (arg1 == "--generate-secret" && argc == 2) {
        std::cout << wh::generate_signing_secret() << "\n";
        return 0;
    }
    bool v1 = argc == 3 && arg2 == "--v1";
    bool v2 = argc >= 4 && (arg2 == "secret_enc" || arg2 == "password_enc");
    if (arg1.empty() || arg1[0] == '-' || !(v1 || v2)) return usage();
    std::vector<unsigned long long> ids;
    for (int i = 3; v2 && i < argc; ++i) {
        unsigned long long id = 0;
        if (!wh::parse_decimal(argv[i], ~0ULL, id)) return usage();
        ids.push_back(id);
    }
    wh::SecretBox::Key key;
    if (std::string e = wh::SecretBox::load_key_file(arg1, key); !e.empty()) {
        std::cerr << e << "\n";
        return 2;
    }
    wh::SecretBox box(key);
    std::string line;
    while (std::getline(std::cin, line)) {
        if (v1) std::cout << box.seal_v1(line) << "\n";
        for (unsigned long long id : ids) std::cout << box.seal(line, wh::credential_aad(arg2, id)) << "\n";
    }
    return 0;
}

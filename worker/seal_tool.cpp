// webhook-worker-seal: test and admin helper. Seals each line of stdin with the AES-256-GCM
// key file (the module's WebhookSecretKeyFile), printing one sealed value per line, e.g. to
// put an endpoint row into MariaDB by hand. A value is sealed for one column of one endpoint
// row (its numeric id): it opens only there. --v1 writes the former format without associated
// data, as an older release did (upgrade tests). With --generate-secret it prints a new
// "whsec_…" signing secret instead. Not installed; built beside webhook-worker.
#include <iostream>
#include <string>

#include "crypto.hpp"

namespace {

int usage() {
    std::cerr << "usage: webhook-worker-seal KEYFILE (secret_enc|password_enc) ENDPOINT_ID < plaintext-lines\n"
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
    bool v2 = argc == 4 && (arg2 == "secret_enc" || arg2 == "password_enc");
    if (arg1.empty() || arg1[0] == '-' || !(v1 || v2)) return usage();
    unsigned long long id = 0;
    if (v2) {
        try {
            id = std::stoull(argv[3]);
        } catch (const std::exception&) {
            return usage();
        }
    }
    wh::SecretBox::Key key;
    if (std::string e = wh::SecretBox::load_key_file(arg1, key); !e.empty()) {
        std::cerr << e << "\n";
        return 2;
    }
    wh::SecretBox box(key);
    std::string line;
    while (std::getline(std::cin, line))
        std::cout << (v1 ? box.seal_v1(line) : box.seal(line, wh::credential_aad(arg2, id))) << "\n";
    return 0;
}

// kserve_big_client.cc -- the 64 MiB max_unpool round trip from a compiled
// client: KServe v2 over gRPC next to KServe v2 over REST with binary
// tensor data, from one process, alternating ABBA.
//
//   grpc  a client generated from api/proto/kserve_v2.proto by protoc's C++
//         and gRPC plugins (gRPC C++ 1.51, Debian), the way users of Go, Java
//         or C++ generate theirs from KServe's definition: ModelInferRequest
//         with raw_input_contents, stub->ModelInfer(), y read in place from
//         the answer's raw_output_contents;
//   rest  libcurl: the KServe binary-data extension (JSON header, then the
//         tensors' bytes; Inference-Header-Content-Length), y read in place
//         from the answer body after its JSON header.
//
// Why a compiled client as well as tritonclient (grpc_big.py): tritonclient
// puts Python's protobuf between the application and the wire, and that
// copies every tensor three times more than tritonclient.http does (about
// 800 ms of a 1.4 s call; bench/README.md has the split). Those copies are
// the Python client's, not the protocol's or the daemon's. Here each
// protocol gets what its usual compiled client does, with the same copy
// discipline on both sides:
//   - each call builds its request from the arrays (gRPC: protobuf copies x
//     and the indices into the message, and serializing copies them into
//     gRPC's buffers; REST: the body is the JSON header and one copy of x
//     and the indices, as tritonclient.http builds it);
//   - each reads the whole answer into memory and points at y inside it,
//     without a further copy (gRPC: protobuf parses the answer into its
//     bytes field; REST: the body, reserved from Content-Length).
// Both clock the call from the arrays to y in memory. libcurl gets a 1 MiB
// receive buffer (CURLOPT_BUFFERSIZE), not its 16 KiB default, so that REST
// is not held back by its client either. The answers of the two protocols
// must hold the same bytes, and y must be x scattered to the indices.
//
// Prints, for report.py:
//     http kserve_big max_unpool <grpc ms> <rest ms>   (medians)
// Usage: kserve_big_client PORT GPORT REPS [grpc|rest]
//   (a fourth argument times that side alone, for a profiler)
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kserve_v2.grpc.pb.h"

namespace {

const int64_t kShape[4] = {16, 64, 128, 128};
const int64_t kN = 16LL * 64 * 128 * 128;  // elements of x and indices
const int64_t kOutN = kN * 4;              // of y: (16, 64, 256, 256)

struct Tensors {
    std::vector<float> x;
    std::vector<int64_t> ind;
};

// x uniform in [0, 1); indices that max_pool k=2 could have produced (one
// position in each 2x2 window, the same in every plane), as grpc_big.py.
Tensors make_tensors()
{
    Tensors t;
    uint64_t s = 1;
    auto next = [&s]() {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return s >> 33;
    };
    t.x.resize(kN);
    for (auto &v : t.x) v = (float)(next() & 0xffffff) / 16777216.0f;
    const int64_t h = kShape[2], w = kShape[3];
    std::vector<int64_t> plane(h * w);
    for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++)
            plane[i * w + j] = (2 * i + (int64_t)(next() & 1)) * (2 * w) + 2 * j + (int64_t)(next() & 1);
    t.ind.resize(kN);
    for (int64_t p = 0; p < kN; p += h * w) std::copy(plane.begin(), plane.end(), t.ind.begin() + p);
    return t;
}

double ms_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// ---- gRPC -------------------------------------------------------------------

class GrpcSide {
  public:
    explicit GrpcSide(int port)
    {
        grpc::ChannelArguments args;
        args.SetMaxSendMessageSize(INT32_MAX);
        args.SetMaxReceiveMessageSize(INT32_MAX);
        auto ch = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                            grpc::InsecureChannelCredentials(), args);
        stub_ = inference::GRPCInferenceService::NewStub(ch);
    }

    // One call; y points into *resp. false on any failure (message printed).
    bool call(const Tensors &t, inference::ModelInferResponse *resp, const float **y)
    {
        inference::ModelInferRequest req;
        req.set_model_name("max_unpool");
        (*req.mutable_parameters())["kernel_size"].set_int64_param(2);
        add_input(&req, "x", "FP32");
        add_input(&req, "indices", "INT64");
        req.add_raw_input_contents(t.x.data(), (size_t)kN * sizeof(float));
        req.add_raw_input_contents(t.ind.data(), (size_t)kN * sizeof(int64_t));
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(600));
        grpc::Status st = stub_->ModelInfer(&ctx, req, resp);
        if (!st.ok()) {
            fprintf(stderr, "kserve_big_client: gRPC: %d %s\n", (int)st.error_code(),
                    st.error_message().c_str());
            return false;
        }
        if (resp->raw_output_contents_size() != 1 ||
            resp->raw_output_contents(0).size() != (size_t)kOutN * sizeof(float)) {
            fprintf(stderr, "kserve_big_client: gRPC: the answer has no y of the right size\n");
            return false;
        }
        *y = reinterpret_cast<const float *>(resp->raw_output_contents(0).data());
        return true;
    }

  private:
    static void add_input(inference::ModelInferRequest *req, const char *name, const char *dt)
    {
        auto *in = req->add_inputs();
        in->set_name(name);
        in->set_datatype(dt);
        for (int64_t d : kShape) in->add_shape(d);
    }

    std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

// ---- REST, binary tensor data ------------------------------------------------

class RestSide {
  public:
    explicit RestSide(int port)
        : url_("http://127.0.0.1:" + std::to_string(port) + "/v2/models/max_unpool/infer")
    {
        char shape[64];
        snprintf(shape, sizeof(shape), "[%lld,%lld,%lld,%lld]", (long long)kShape[0],
                 (long long)kShape[1], (long long)kShape[2], (long long)kShape[3]);
        json_ = std::string("{\"inputs\":[") +
                "{\"name\":\"x\",\"shape\":" + shape + ",\"datatype\":\"FP32\"," +
                "\"parameters\":{\"binary_data_size\":" + std::to_string(kN * 4) + "}}," +
                "{\"name\":\"indices\",\"shape\":" + shape + ",\"datatype\":\"INT64\"," +
                "\"parameters\":{\"binary_data_size\":" + std::to_string(kN * 8) + "}}]," +
                "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":true}}]," +
                "\"parameters\":{\"kernel_size\":2}}";
        curl_ = curl_easy_init();
        hdrs_ = curl_slist_append(hdrs_, "Content-Type: application/octet-stream");
        hdrs_ = curl_slist_append(hdrs_, ("Inference-Header-Content-Length: " +
                                          std::to_string(json_.size())).c_str());
        hdrs_ = curl_slist_append(hdrs_, "Expect:");  // no 100-continue round trip
        curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
        curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, hdrs_);
        curl_easy_setopt(curl_, CURLOPT_BUFFERSIZE, 1L << 20);
        curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 600L);
        curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_body);
    }

    ~RestSide()
    {
        curl_slist_free_all(hdrs_);
        curl_easy_cleanup(curl_);
    }

    // One call; y points into *body. false on any failure (message printed).
    bool call(const Tensors &t, std::string *body, const float **y)
    {
        std::string req;
        req.reserve(json_.size() + (size_t)kN * 12);
        req.append(json_);
        req.append(reinterpret_cast<const char *>(t.x.data()), (size_t)kN * sizeof(float));
        req.append(reinterpret_cast<const char *>(t.ind.data()), (size_t)kN * sizeof(int64_t));
        Answer a{body, 0};
        body->clear();
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, req.data());
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req.size());
        curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &a);
        curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &a);
        CURLcode rc = curl_easy_perform(curl_);
        long status = 0;
        curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200) {
            fprintf(stderr, "kserve_big_client: REST: %s, HTTP %ld: %.300s\n",
                    curl_easy_strerror(rc), status, body->c_str());
            return false;
        }
        if (a.json_len == 0 || body->size() != a.json_len + (size_t)kOutN * sizeof(float)) {
            fprintf(stderr, "kserve_big_client: REST: the answer has no y of the right size\n");
            return false;
        }
        *y = reinterpret_cast<const float *>(body->data() + a.json_len);
        return true;
    }

  private:
    struct Answer {
        std::string *body;
        size_t json_len;
    };

    // Content-Length reserves the body (one allocation, as protobuf's parse
    // makes one for y); Inference-Header-Content-Length says where y starts.
    static size_t on_header(char *p, size_t size, size_t n, void *ud)
    {
        Answer *a = static_cast<Answer *>(ud);
        std::string line(p, size * n);
        std::transform(line.begin(), line.end(), line.begin(), ::tolower);
        if (line.rfind("content-length:", 0) == 0)
            a->body->reserve(strtoull(line.c_str() + 15, nullptr, 10));
        else if (line.rfind("inference-header-content-length:", 0) == 0)
            a->json_len = strtoull(line.c_str() + 32, nullptr, 10);
        return size * n;
    }

    static size_t on_body(char *p, size_t size, size_t n, void *ud)
    {
        static_cast<Answer *>(ud)->body->append(p, size * n);
        return size * n;
    }

    std::string url_, json_;
    CURL *curl_ = nullptr;
    curl_slist *hdrs_ = nullptr;
};

// y must be x scattered to the indices: checked in the first plane, and the
// last plane's last window, on the first answer of each protocol.
bool check_y(const Tensors &t, const float *y)
{
    const int64_t plane = kShape[2] * kShape[3], oplane = plane * 4;
    for (int64_t k = 0; k < plane; k++)
        if (y[t.ind[k]] != t.x[k]) return false;
    const int64_t last = kN - 1;
    return y[(last / plane) * oplane + t.ind[last]] == t.x[last];
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: kserve_big_client PORT GPORT REPS [grpc|rest]\n");
        return 2;
    }
    int port = atoi(argv[1]), gport = atoi(argv[2]), reps = atoi(argv[3]);
    const char *only = argc == 5 ? argv[4] : "";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Tensors t = make_tensors();
    GrpcSide g(gport);
    RestSide r(port);
    std::vector<double> tg, tr;
    {
        // warm both sides once and check that their answers agree
        inference::ModelInferResponse resp;
        std::string body;
        const float *yg = nullptr, *yr = nullptr;
        if (!g.call(t, &resp, &yg) || !r.call(t, &body, &yr)) return 1;
        if (!check_y(t, yg) || memcmp(yg, yr, (size_t)kOutN * sizeof(float)) != 0) {
            fprintf(stderr, "kserve_big_client: wrong answer, or gRPC and REST differ\n");
            return 1;
        }
    }
    for (int i = 0; i < reps; i++) {
        for (int k = 0; k < 2; k++) {
            bool grpc_side = (k == 0) == (i % 2 == 0);  // ABBA: gRPC first on even reps
            if (*only && strcmp(only, grpc_side ? "grpc" : "rest") != 0) continue;
            const float *y = nullptr;
            auto t0 = std::chrono::steady_clock::now();
            if (grpc_side) {
                inference::ModelInferResponse resp;
                if (!g.call(t, &resp, &y)) return 1;
                tg.push_back(ms_since(t0));
            } else {
                std::string body;
                if (!r.call(t, &body, &y)) return 1;
                tr.push_back(ms_since(t0));
            }
        }
    }
    printf("http\tkserve_big\tmax_unpool\t%.3f\t%.3f\n", tg.empty() ? 0.0 : median(tg),
           tr.empty() ? 0.0 : median(tr));
    curl_global_cleanup();
    return 0;
}

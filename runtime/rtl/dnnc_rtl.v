// dnnc RTL building blocks: generic streaming kernels the generated design instantiates.
// Every stream is valid/ready (a beat moves when both are high); lane i of a bus sits at [i*EW +: EW].
// Stages stall as a whole when their output register is full and not taken (adv = !(out_valid && !out_ready)),
// so back-pressure never drops or duplicates a beat.
`default_nettype none

// Balanced adder tree over N signed W-bit terms (heap layout: node i = node 2i+1 + node 2i+2), as an array so
// simulators do not re-evaluate one wide packed vector per node.
module dnnc_sum #(parameter N = 1, parameter W = 8) (
    input  wire [N*W-1:0]       terms,
    output wire signed [W-1:0]  sum
);
    wire signed [W-1:0] node [0:2*N-2];
    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : leaf
            assign node[N-1+i] = terms[i*W +: W];
        end
        for (i = 0; i < N-1; i = i + 1) begin : inner
            assign node[i] = node[2*i+1] + node[2*i+2];
        end
    endgenerate
    assign sum = node[0];
endmodule

// Width converter: INL lanes in, OUTL lanes out, EW bits a lane; holds up to INL + OUTL lanes, so it always
// either accepts or emits. Lane order is kept (the lowest lane leaves first).
module dnnc_dwc #(parameter INL = 1, parameter OUTL = 1, parameter EW = 1) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire [INL*EW-1:0]    in_data,
    input  wire                 in_valid,
    output wire                 in_ready,
    output wire [OUTL*EW-1:0]   out_data,
    output wire                 out_valid,
    input  wire                 out_ready
);
    localparam CAP = INL + OUTL;
    reg [CAP*EW-1:0] buffer;
    reg [31:0] cnt;
    assign out_valid = cnt >= OUTL;
    assign out_data = buffer[OUTL*EW-1:0];
    assign in_ready = cnt + INL <= CAP;
    wire take = out_valid && out_ready;
    wire [31:0] left = take ? cnt - OUTL : cnt;
    wire [CAP*EW-1:0] kept = take ? (buffer >> (OUTL*EW)) : buffer;
    wire [CAP*EW-1:0] incoming = {{(CAP-INL)*EW{1'b0}}, in_data};
    always @(posedge clk) begin
        if (rst) begin
            cnt <= 0;
            buffer <= 0;
        end else if (in_valid && in_ready) begin
            buffer <= kept | (incoming << (left*EW));
            cnt <= left + INL;
        end else begin
            buffer <= kept;
            cnt <= left;
        end
    end
endmodule

// Sliding-window generator: stores one (H, W, C) frame (C/SIMD beats a pixel, channels innermost), then emits
// every K x K window in (ky, kx, c) order, SIMD lanes a beat, with stride S and zero padding P. BITS_IN = 1
// turns bipolar bits into signed OEW-bit values (+1 / -1) so that a padded position can carry 0.
module dnnc_swg #(parameter C = 1, parameter H = 1, parameter W = 1, parameter K = 1, parameter S = 1,
                  parameter P = 0, parameter OH = 1, parameter OW = 1, parameter SIMD = 1,
                  parameter IEW = 1, parameter OEW = 1, parameter BITS_IN = 0) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire [SIMD*IEW-1:0]   in_data,
    input  wire                  in_valid,
    output wire                  in_ready,
    output reg  [SIMD*OEW-1:0]   out_data,
    output reg                   out_valid,
    input  wire                  out_ready
);
    localparam CF = C / SIMD;
    localparam DEPTH = H * W * CF;
    reg [SIMD*IEW-1:0] fm [0:DEPTH-1];
    reg loading;
    reg [31:0] wptr;
    integer oy, ox, ky, kx, cf;
    wire adv = !(out_valid && !out_ready);
    assign in_ready = loading;
    wire signed [31:0] iy = oy * S + ky - P;
    wire signed [31:0] ix = ox * S + kx - P;
    wire pad = iy < 0 || iy >= H || ix < 0 || ix >= W;
    wire [31:0] raddr = pad ? 0 : (iy * W + ix) * CF + cf;
    reg [SIMD*IEW-1:0] q;
    reg v1, pad1;
    always @(posedge clk) begin
        if (loading && in_valid) fm[wptr] <= in_data;
        if (!loading && adv) q <= fm[raddr];
    end
    always @(posedge clk) begin
        if (rst) begin
            loading <= 1'b1; wptr <= 0; oy <= 0; ox <= 0; ky <= 0; kx <= 0; cf <= 0; v1 <= 1'b0; pad1 <= 1'b0;
        end else begin
            if (loading) begin
                if (in_valid) begin
                    if (wptr == DEPTH - 1) begin wptr <= 0; loading <= 1'b0; end
                    else wptr <= wptr + 1;
                end
            end else if (adv) begin
                if (cf != CF - 1) cf <= cf + 1;
                else begin
                    cf <= 0;
                    if (kx != K - 1) kx <= kx + 1;
                    else begin
                        kx <= 0;
                        if (ky != K - 1) ky <= ky + 1;
                        else begin
                            ky <= 0;
                            if (ox != OW - 1) ox <= ox + 1;
                            else begin
                                ox <= 0;
                                if (oy != OH - 1) oy <= oy + 1;
                                else begin oy <= 0; loading <= 1'b1; end
                            end
                        end
                    end
                end
            end
            if (adv) begin
                v1 <= !loading;
                pad1 <= pad;
            end
        end
    end
    integer j;
    reg [SIMD*OEW-1:0] conv;
    always @* begin
        for (j = 0; j < SIMD; j = j + 1) begin
            if (pad1) conv[j*OEW +: OEW] = {OEW{1'b0}};
            else if (BITS_IN != 0) conv[j*OEW +: OEW] = q[j*IEW] ? {{(OEW-1){1'b0}}, 1'b1} : {OEW{1'b1}};
            else conv[j*OEW +: OEW] = q[j*IEW +: OEW];  // same element kind in and out (OEW == IEW)
        end
    end
    always @(posedge clk) begin
        if (rst) out_valid <= 1'b0;
        else if (adv && v1) begin out_data <= conv; out_valid <= 1'b1; end
        else if (out_ready) out_valid <= 1'b0;
    end
endmodule

// Max-pool K x K, stride K, floor mode, on signed EW-bit accumulators of an (H, W, C) stream (C/PE beats a
// pixel): a row of running maxima, the result leaves with the window's last beat.
module dnnc_maxpool #(parameter C = 1, parameter H = 1, parameter W = 1, parameter K = 2, parameter PE = 1,
                      parameter EW = 32) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire [PE*EW-1:0]     in_data,
    input  wire                 in_valid,
    output wire                 in_ready,
    output reg  [PE*EW-1:0]     out_data,
    output reg                  out_valid,
    input  wire                 out_ready
);
    localparam CF = C / PE;
    localparam OWP = W / K;
    localparam HK = (H / K) * K;
    localparam WK = OWP * K;
    reg [PE*EW-1:0] rm [0:OWP*CF-1];
    integer y, x, ky, kx, ox, cf, j;
    assign in_ready = !(out_valid && !out_ready);
    wire take = in_valid && in_ready;
    wire in_pool = y < HK && x < WK;
    wire [31:0] idx = ox * CF + cf;
    reg [PE*EW-1:0] upd;
    reg [PE*EW-1:0] old;
    always @* begin
        old = rm[idx];
        for (j = 0; j < PE; j = j + 1) begin
            if ((ky == 0 && kx == 0) || $signed(in_data[j*EW +: EW]) > $signed(old[j*EW +: EW]))
                upd[j*EW +: EW] = in_data[j*EW +: EW];
            else
                upd[j*EW +: EW] = old[j*EW +: EW];
        end
    end
    wire done = in_pool && ky == K - 1 && kx == K - 1;
    always @(posedge clk) begin
        if (rst) begin
            y <= 0; x <= 0; ky <= 0; kx <= 0; ox <= 0; cf <= 0; out_valid <= 1'b0;
        end else begin
            if (take && done) begin out_data <= upd; out_valid <= 1'b1; end
            else if (out_ready) out_valid <= 1'b0;
            if (take) begin
                if (in_pool && !done) rm[idx] <= upd;
                if (cf != CF - 1) cf <= cf + 1;
                else begin
                    cf <= 0;
                    if (x != W - 1) begin
                        x <= x + 1;
                        if (kx != K - 1) kx <= kx + 1;
                        else begin kx <= 0; ox <= ox + 1; end
                    end else begin
                        x <= 0; kx <= 0; ox <= 0;
                        if (y != H - 1) begin
                            y <= y + 1;
                            ky <= (ky == K - 1) ? 0 : ky + 1;
                        end else begin y <= 0; ky <= 0; end
                    end
                end
            end
        end
    end
endmodule
`default_nettype wire
